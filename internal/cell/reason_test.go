package cell

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// nopicModule is an nginx module whose config links a static library.
const nopicModule = `#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

int nopic_next(void);

static ngx_int_t ngx_http_nopic_init(ngx_conf_t *cf) { return nopic_next() > 0 ? NGX_OK : NGX_ERROR; }

static ngx_http_module_t ngx_http_nopic_ctx = { NULL, ngx_http_nopic_init, NULL, NULL, NULL, NULL, NULL, NULL };

ngx_module_t ngx_http_nopic_module = { NGX_MODULE_V1, &ngx_http_nopic_ctx, NULL, NGX_HTTP_MODULE,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NGX_MODULE_V1_PADDING };
`

// TestReasonIsTheToolsError is issue 34 item 4: a module's one-line
// reason is the tool's own error, not a line of make's command. A module
// linking a static library built without -fPIC gets the linker's
// "relocation ... recompile with -fPIC" (it read "cc -o objs/....so \"
// before); one whose two sources include a header nobody has gets
// gcc's error once, with the count of the other files (it was listed
// once per source file).
func TestReasonIsTheToolsError(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	root := t.TempDir()
	nopic := filepath.Join(root, "nopic")
	os.MkdirAll(nopic, 0o755)
	os.WriteFile(filepath.Join(nopic, "lib.c"), []byte("int nopic_counter = 1;\nint nopic_next(void) { return ++nopic_counter; }\n"), 0o644)
	for _, argv := range [][]string{
		{"gcc", "-c", "-fno-pic", "-fno-pie", "-O2", "lib.c", "-o", "lib.o"},
		{"ar", "rcs", "libnopic.a", "lib.o"},
	} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = nopic
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	os.WriteFile(filepath.Join(nopic, "ngx_http_nopic_module.c"), []byte(nopicModule), 0o644)
	os.WriteFile(filepath.Join(nopic, "config"), []byte(`ngx_addon_name=ngx_http_nopic_module
ngx_module_type=HTTP
ngx_module_name=ngx_http_nopic_module
ngx_module_srcs="$ngx_addon_dir/ngx_http_nopic_module.c"
ngx_module_libs="$ngx_addon_dir/libnopic.a"
. auto/module
`), 0o644)

	missing := filepath.Join(root, "missing")
	os.MkdirAll(missing, 0o755)
	for _, f := range []string{"a.c", "b.c"} {
		os.WriteFile(filepath.Join(missing, f), []byte("#include <nosuch_header_for_nginx_modbuild.h>\nint x_"+f[:1]+";\n"), 0o644)
	}
	os.WriteFile(filepath.Join(missing, "config"), []byte(`ngx_addon_name=ngx_http_missing_module
ngx_module_type=HTTP
ngx_module_name=ngx_http_missing_module
ngx_module_srcs="$ngx_addon_dir/a.c $ngx_addon_dir/b.c"
. auto/module
`), 0o644)

	o := options(t, mirror, "1.26.3", helloWorld(), Module{ID: "nopic", Dir: nopic}, Module{ID: "missing", Dir: missing})
	var log strings.Builder
	o.Log = &Log{W: &log}
	res, _ := Run(context.Background(), o)
	want := map[string][]string{
		"ngx_http_nopic_module":   {"recompile with -fPIC", "libnopic.a"},
		"ngx_http_missing_module": {"error: nosuch_header_for_nginx_modbuild.h: No such file or directory (and in 1 more file)"},
	}
	got := map[string]bool{}
	for _, f := range res.Manifest.Cells[0].Failures {
		got[f.Module] = true
		for _, w := range want[f.Module] {
			if !strings.Contains(f.Reason(), w) {
				t.Errorf("%s: reason %q lacks %q; error:\n%s", f.Module, f.Reason(), w, f.Error)
			}
		}
	}
	for m := range want {
		if !got[m] {
			t.Errorf("%s did not fail\n%s", m, testenv.Tail(log.String(), 30))
		}
	}
	if len(res.Manifest.Entries) != 1 || res.Manifest.Entries[0].Module != "ngx_http_hello_world_module" {
		t.Errorf("entries %+v: want hello-world's alone", res.Manifest.Entries)
	}
}

// TestToolErrorsFromMakeLog: in a make -k -j2 log, a module's compile
// that gcc could not run (no cc1plus, as in a bare Debian without g++)
// is found by the make error after its command, whose target is an
// object under objs/addon, not under the module's directory; another
// module's failed recipe is not its.
func TestToolErrorsFromMakeLog(t *testing.T) {
	t.Parallel()
	log := `cc -c -fPIC -I src/core -o objs/addon/src/ot.o /src/opentracing/src/ot.cpp
cc: fatal error: cannot execute 'cc1plus': execvp: No such file or directory
compilation terminated.
make[1]: *** [objs/Makefile:1386: objs/addon/src/ot.o] Error 1
cc -c -fPIC -I src/core -o objs/addon/src/b.o /src/other/src/b.c
/src/other/src/b.c:1:10: fatal error: b.h: No such file or directory
make[1]: *** [objs/Makefile:1400: objs/addon/src/b.o] Error 1
make[1]: Target 'modules' not remade because of errors.`
	m := prepared{Module: Module{ID: "opentracing", Dir: "/src/opentracing"}}
	got := excerpt(m, "ngx_http_opentracing_module", log, nil)
	if want := "cc: fatal error: cannot execute 'cc1plus': execvp: No such file or directory"; !strings.HasPrefix(got, want) {
		t.Errorf("excerpt:\n%s\nwant it to start with %q", got, want)
	}
	if strings.Contains(got, "b.h") {
		t.Errorf("excerpt has the other module's error:\n%s", got)
	}
}

// TestReasonNamesWhatMakeStoppedOn: configured with nginx-acme, every
// addon object waits for its cargo-built library (ADDON_DEPS); when
// cargo fails, make -k compiles none of vts's objects and vts's own
// recipes fail on nothing. Its reason was a compile command's fragment
// ("-o …_modules.o \\"); it names the target make stopped on and that
// target's own error.
func TestReasonNamesWhatMakeStoppedOn(t *testing.T) {
	t.Parallel()
	log := `cd /src/acme && cargo build --release \
	--manifest-path "/src/acme/Cargo.toml" \
	--target-dir "/tmp/b/objs/nginx_acme"
    Updating crates.io index
warning: spurious network error (3 tries remaining): [6] Couldn't resolve host name (Could not resolve host: index.crates.io)
error: Unable to update registry ` + "`crates-io`" + `

Caused by:
  failed to query replaced source registry ` + "`crates-io`" + `
make[1]: *** [/tmp/b/objs/Makefile:1690: /tmp/b/objs/nginx_acme/ngx-release/libnginx_acme.a] Error 101
make[1]: Target 'modules' not remade because of errors.`
	vts := prepared{Module: Module{ID: "vts", Dir: "/src/vts"}}
	got := excerpt(vts, "ngx_http_vhost_traffic_status_module", log, nil)
	want := "none of its objects was built: make stopped on /tmp/b/objs/nginx_acme/ngx-release/libnginx_acme.a, which it waits for: error: Unable to update registry `crates-io`"
	if first, _, _ := strings.Cut(got, "\n"); first != want {
		t.Errorf("vts's excerpt:\n%s\nwant its first line %q", got, want)
	}
	// acme's own: cargo's error line, not the "stopped on" line.
	acme := prepared{Module: Module{ID: "acme", Dir: "/src/acme"}}
	if got := excerpt(acme, "ngx_http_acme_module", log, nil); !strings.HasPrefix(got, "error: Unable to update registry") {
		t.Errorf("acme's excerpt:\n%s", got)
	}
}

// TestConfigureReasonIsTheConfigsLastWord is issue 34 item 4's configure
// case: naxsi as GitHub's archive gives it (no libinjection submodule)
// stops its config with "Cannot find 'libinjection' submodule." after
// pkg-config's complaints about the system library it tried first (or,
// without pkg-config, "pkg-config: not found"); the one-line reason is
// the config's last words, not the first noise.
func TestConfigureReasonIsTheConfigsLastWord(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	naxsi := filepath.Join(testenv.Upstream(t, "naxsi"), "naxsi_src")
	res, _ := Run(context.Background(), options(t, mirror, "1.26.3", Module{ID: "naxsi", Dir: naxsi}))
	if len(res.Manifest.Cells) != 1 || len(res.Manifest.Cells[0].Failures) != 1 {
		t.Fatalf("want one cell with naxsi's failure: %+v", res.Manifest.Cells)
	}
	f := res.Manifest.Cells[0].Failures[0]
	if want := "configure stopped in its config: Cannot find 'libinjection' submodule."; f.Phase != "configure" || f.Reason() != want {
		t.Errorf("naxsi failed in %s: reason %q, want %q\n%s", f.Phase, f.Reason(), want, f.Error)
	}
}
