package cell

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestRecordOfGlobalFlags runs the wrapper of a config that appends to
// CFLAGS and prepends to NGX_LD_OPT under /bin/sh, as configure runs it,
// and reads back what it changed; one that changes nothing says nothing.
func TestRecordOfGlobalFlags(t *testing.T) {
	r := runWrappers(t, "CFLAGS='-O -Werror'; NGX_LD_OPT='-Wl,-E'",
		"ngx_addon_name=x\nCFLAGS=\"$CFLAGS -Wno-deprecated-declarations\"\nNGX_LD_OPT=\"-L/opt/x $NGX_LD_OPT\"\n",
		"ngx_addon_name=y\nngx_module_incs=\"$ngx_addon_dir/src\"\n")
	want := "CFLAGS += -Wno-deprecated-declarations; NGX_LD_OPT =+ -L/opt/x (prepended)"
	if got := r[0].globalChange(); got != want {
		t.Errorf("change = %q, want %q", got, want)
	}
	if got := r[1].globalChange(); got != "" {
		t.Errorf("a config that changes no global flag: %q", got)
	}
	if got := components(4, [][]int{nil, {0}, nil, {1}}); got[0] != got[1] || got[1] != got[3] || got[2] == got[0] {
		t.Errorf("components = %v: want 0, 1, 3 together and 2 apart", got)
	}
}

// TestMadeDepsAreRecorded: a config that adds a target make builds to
// NGX_ADDON_DEPS (nginx-acme's cargo library, through auto/module) is
// told apart from one that adds its headers (no rule builds them).
func TestMadeDepsAreRecorded(t *testing.T) {
	r := runWrappers(t, "NGX_ADDON_DEPS='$(CORE_DEPS)'",
		"ngx_addon_name=x\nNGX_ADDON_DEPS=\"$NGX_ADDON_DEPS objs/x/ngx-release/libx.a\"\n",
		"ngx_addon_name=y\nNGX_ADDON_DEPS=\"$NGX_ADDON_DEPS $ngx_addon_dir/y.h\"\n")
	mk := ParseMakefile("ADDON_DEPS = $(CORE_DEPS) objs/x/ngx-release/libx.a /m1/y.h\n\n" +
		".PHONY: objs/x/ngx-release/libx.a\n\nobjs/x/ngx-release/libx.a:\n\tcargo rustc --manifest-path x/Cargo.toml\n\n" +
		"objs/ngx_x_module.so:\tobjs/x/ngx-release/libx.a\n")
	if got := r[0].madeDeps(mk); len(got) != 1 || got[0] != "objs/x/ngx-release/libx.a" {
		t.Errorf("made deps of the cargo config: %q, want its library", got)
	}
	if got := r[1].madeDeps(mk); len(got) != 0 {
		t.Errorf("made deps of a config adding its header: %q, want none", got)
	}
	if mk.Targets["ADDON_DEPS"] || mk.Targets[".PHONY"] {
		t.Errorf("targets %v: a variable or .PHONY counted as a rule", mk.Targets)
	}
}

// runWrappers runs the wrapper of each config (module i in configs[i],
// in a directory of its own) under /bin/sh after prelude, as configure
// runs them, and reads back the record.
func runWrappers(t *testing.T, prelude string, configs ...string) map[int]*declared {
	t.Helper()
	dir := t.TempDir()
	rec := filepath.Join(dir, "record")
	script := prelude + "; DYNAMIC_MODULES=; NGX_AUTOCONF_ERR=/dev/null\n"
	for i, cfg := range configs {
		m := filepath.Join(dir, fmt.Sprintf("m%d", i))
		os.MkdirAll(m, 0o755)
		os.WriteFile(filepath.Join(m, "config"), []byte(cfg), 0o644)
		script += wrapperConfig(i, m, rec, nil, nil)
	}
	if out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	return readRecord(rec)
}

// TestMacroTiesLuaToTheNDK: lua's config appends -DNDK_SET_VAR to CFLAGS
// for the NDK (whose objs/ndk_config.h tests it), not for vts. Split by
// global flags alone, the Debian 12 corpus configured lua apart from the
// NDK, and lua built without it (requires []). The -D ties lua to the
// NDK, and only to it.
func TestMacroTiesLuaToTheNDK(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "debian-12/libnginx-mod-http-lua_0.10.23.orig.tar.gz")
	ndk := celltest.Module(t, filepath.Join(mirror, "debian-12"), "libnginx-mod-http-ndk_0.3.2.orig.tar.gz")
	lua := celltest.Module(t, filepath.Join(mirror, "debian-12"), "libnginx-mod-http-lua_0.10.23.orig.tar.gz")
	vts := testenv.Upstream(t, "nginx-module-vts")
	g := group{mods: []prepared{{Module: Module{Dir: vts}, index: 0}, {Module: Module{Dir: ndk}, index: 1}, {Module: Module{Dir: lua}, index: 2}},
		record: map[int]*declared{2: {Flags: map[string][2]string{"CFLAGS": {"-pipe -O", "-pipe -O -DNDK_SET_VAR"}}}}}
	got := macroTies(g, nil)
	if want := [][]int{nil, nil, {1}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("macroTies = %v, want %v (lua tied to the NDK only)", got, want)
	}
	comp := components(3, got)
	if comp[1] != comp[2] || comp[0] == comp[2] {
		t.Errorf("components %v: want the NDK with lua, vts apart", comp)
	}
}
