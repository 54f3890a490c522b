package modconf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// extract unpacks a module's tarball and returns its directory.
func extract(t *testing.T, tarball string) string {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir, err := source.Extract(f, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHintsFollowSourcedConfigs reads a config that sources two
// sub-configs (two .so from one addon), probes a library and tests a
// switch, the patterns configure runs but a single-file reading misses.
func TestHintsFollowSourcedConfigs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "config", `ngx_addon_name=pair
. $ngx_addon_dir/filter/config
. "$ngx_addon_dir/static/config"
if [ $STREAM != NO ]; then  # a comment with -lnotalib
    PAIR_STREAM=yes
fi
`)
	write(t, dir, "filter/config", `ngx_feature="MaxmindDB library"
ngx_feature_incs="#include <maxminddb.h>"
ngx_feature_libs="-lmaxminddb"
. auto/feature
ngx_module_libs="$ngx_feature_libs OPENSSL LIBXSLT"
`)
	write(t, dir, "static/config", `if [ $USE_OPENSSL = YES ]; then STATIC_HMAC=1; fi
USE_GEOIP=YES
`)
	h, err := ReadHints(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{"libs": h.Libs, "headers": h.Headers, "reads": h.Reads, "enables": h.Enables, "switches": h.Switches, "files": {}}
	for _, f := range h.Files {
		rel, _ := filepath.Rel(dir, f)
		got["files"] = append(got["files"], rel)
	}
	want := map[string][]string{
		"libs": {"maxminddb"}, "headers": {"maxminddb.h"}, "reads": {"STREAM", "USE_OPENSSL"},
		"enables": {"USE_OPENSSL"}, "switches": {"GEOIP", "LIBXSLT", "OPENSSL"}, "files": {"config", "filter/config", "static/config"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hints (-want +got):\n%s", diff)
	}
	if _, err := ReadHints(t.TempDir()); err == nil {
		t.Error("a directory without a config file gave no error")
	}
}

// TestHintDepsAndSort orders a config that reads a switch after the one
// that turns it on, and keeps the given order otherwise.
func TestHintDepsAndSort(t *testing.T) {
	t.Parallel()
	reader := &Hints{Reads: []string{"USE_OPENSSL"}}
	plain := &Hints{}
	enabler := &Hints{Enables: []string{"USE_OPENSSL"}}
	deps := HintDeps([]*Hints{reader, plain, enabler})
	if diff := cmp.Diff([]int{2, 0, 1}, Sort(3, deps)); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	// A cycle keeps the given order instead of failing.
	if diff := cmp.Diff([]int{1, 0}, Sort(2, [][]int{{1}, {0}})); diff != "" {
		t.Errorf("cycle (-want +got):\n%s", diff)
	}
}

// TestRealModuleHints reads the configs of real third-party modules:
// set-misc reads NDK_SRCS, which ngx_devel_kit sets, so it is configured
// after it whatever the given order; lua, modsecurity and auth-pam name
// the libraries they probe for.
func TestRealModuleHints(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "libnginx-mod-http-lua_0.10.23.orig.tar.gz")
	names := []string{"libnginx-mod-http-set-misc_0.33", "libnginx-mod-http-lua_0.10.23", "libnginx-mod-http-echo_0.63",
		"libnginx-mod-http-modsecurity_1.0.3", "libnginx-mod-http-auth-pam_1.5.5", "libnginx-mod-http-ndk_0.3.4"}
	var hs []*Hints
	for _, name := range names {
		h, err := ReadHints(extract(t, filepath.Join(mirror, name+".orig.tar.gz")))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	for i, lib := range map[int]string{1: "luajit-5.1", 3: "modsecurity", 4: "pam"} {
		if !slices.Contains(hs[i].Libs, lib) {
			t.Errorf("%s: libs %v lack %s", names[i], hs[i].Libs, lib)
		}
	}
	order := Sort(len(hs), HintDeps(hs))
	pos := map[string]int{}
	for i, o := range order {
		pos[names[o]] = i
	}
	if pos["libnginx-mod-http-ndk_0.3.4"] > pos["libnginx-mod-http-set-misc_0.33"] {
		t.Errorf("set-misc ordered before ngx_devel_kit: %v", order)
	}
}

// TestNameIsTheSOName: a real module's name, read from its config alone,
// is the name of the .so Debian's own package of it ships (ndk's config
// calls itself ngx_devel_kit and builds ndk_http_module.so).
func TestNameIsTheSOName(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "libnginx-mod-http-ndk_0.3.4.orig.tar.gz")
	for orig, deb := range map[string]string{
		"libnginx-mod-http-ndk_0.3.4":     "libnginx-mod-http-ndk",
		"libnginx-mod-http-echo_0.63":     "libnginx-mod-http-echo",
		"libnginx-mod-http-set-misc_0.33": "libnginx-mod-http-set-misc",
	} {
		sos, _ := filepath.Glob(filepath.Join(mirror, "debs", "bookworm-amd64", deb, "usr", "lib", "nginx", "modules", "*.so"))
		if len(sos) != 1 {
			t.Fatalf("%s: Debian's package holds %d .so files, want 1 (run scripts/debs %s)", deb, len(sos), mirror)
		}
		if got, want := Name(extract(t, filepath.Join(mirror, orig+".orig.tar.gz"))), strings.TrimSuffix(filepath.Base(sos[0]), ".so"); got != want {
			t.Errorf("%s: Name = %q, Debian's %s ships %s.so", orig, got, deb, want)
		}
	}
	dir := t.TempDir()
	write(t, dir, "config", "ngx_addon_name=ngx_http_a_module\nngx_module_name=$ngx_addon_name\n")
	if got := Name(dir); got != "ngx_http_a_module" {
		t.Errorf("$ngx_addon_name: Name = %q", got)
	}
	if got := Name(t.TempDir()); got != "" {
		t.Errorf("no config: Name = %q", got)
	}
}
