package cell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// synthetic writes a module directory from file texts; "%s" in a C file
// is replaced by the module name it defines (the file's base name).
func synthetic(t *testing.T, name string, files map[string]string) Module {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	for f, text := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Module{ID: name, Dir: dir}
}

// httpModule is the C source of an empty HTTP module named name, plus
// extra code.
func httpModule(name, extra string) string {
	return fmt.Sprintf(`#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
%[2]s
static ngx_http_module_t %[1]s_ctx = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
ngx_module_t %[1]s = { NGX_MODULE_V1, &%[1]s_ctx, NULL, NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NGX_MODULE_V1_PADDING };
`, name, extra)
}

// streamModule is an empty stream module that uses a symbol of nginx's
// stream core, so it loads only after it.
func streamModule(name string) string {
	return fmt.Sprintf(`#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>
ngx_module_t *%[1]s_core = &ngx_stream_core_module;
static ngx_stream_module_t %[1]s_ctx = { NULL, NULL, NULL, NULL, NULL, NULL };
ngx_module_t %[1]s = { NGX_MODULE_V1, &%[1]s_ctx, NULL, NGX_STREAM_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NGX_MODULE_V1_PADDING };
`, name)
}

// The config patterns of real modules, each small.
func streamPair(t *testing.T) Module {
	return synthetic(t, "pair", map[string]string{
		"config": `ngx_addon_name=ngx_http_pair_module
ngx_module_type=HTTP
ngx_module_name=ngx_http_pair_module
ngx_module_srcs="$ngx_addon_dir/http.c"
. auto/module
if [ $STREAM != NO ]; then
    ngx_module_type=STREAM
    ngx_module_name=ngx_stream_pair_module
    ngx_module_srcs="$ngx_addon_dir/stream.c"
    . auto/module
fi
`,
		"http.c":   httpModule("ngx_http_pair_module", ""),
		"stream.c": streamModule("ngx_stream_pair_module"),
	})
}

func patternModules(t *testing.T) []Module {
	return []Module{
		streamPair(t),
		// Only a stream module, under a STREAM guard.
		synthetic(t, "streamonly", map[string]string{
			"config": `ngx_addon_name=ngx_stream_only_module
if [ $STREAM != NO ]; then
    ngx_module_type=STREAM
    ngx_module_name=ngx_stream_only_module
    ngx_module_srcs="$ngx_addon_dir/stream.c"
    . auto/module
fi
`,
			"stream.c": streamModule("ngx_stream_only_module"),
		}),
		// One auto/module call for two modules when dynamic, one call per
		// module when static (issue 11's first failure shape).
		synthetic(t, "branchy", map[string]string{
			"config": `ngx_addon_name=branchy
if [ $ngx_module_link = DYNAMIC ]; then
    ngx_module_type=HTTP
    ngx_module_name="ngx_http_branchy_a_module ngx_http_branchy_b_module"
    ngx_module_srcs="$ngx_addon_dir/a.c $ngx_addon_dir/b.c"
    . auto/module
else
    ngx_module_type=HTTP
    ngx_module_name=ngx_http_branchy_a_module
    ngx_module_srcs="$ngx_addon_dir/a.c"
    . auto/module
    ngx_module_name=ngx_http_branchy_b_module
    ngx_module_srcs="$ngx_addon_dir/b.c"
    . auto/module
fi
`,
			"a.c": httpModule("ngx_http_branchy_a_module", ""),
			"b.c": httpModule("ngx_http_branchy_b_module", ""),
		}),
		// Sub-configs sourced from the addon's directory, a .so each.
		synthetic(t, "subconf", map[string]string{
			"config": "ngx_addon_name=subconf\n. $ngx_addon_dir/filter/config\n. $ngx_addon_dir/static/config\n",
			"filter/config": `ngx_module_type=HTTP_FILTER
ngx_module_name=ngx_http_sub_filter_x_module
ngx_module_srcs="$ngx_addon_dir/filter/filter.c"
ngx_module_order=
. auto/module
`,
			"static/config": `ngx_module_type=HTTP
ngx_module_name=ngx_http_sub_static_x_module
ngx_module_srcs="$ngx_addon_dir/static/static.c"
. auto/module
`,
			"filter/filter.c": httpModule("ngx_http_sub_filter_x_module", ""),
			"static/static.c": httpModule("ngx_http_sub_static_x_module", ""),
		}),
		// Compiles hmac.c only if OpenSSL is on when its config runs (as
		// set-misc does), but calls it whenever nginx has OpenSSL.
		synthetic(t, "flipreader", map[string]string{
			"config": `ngx_addon_name=ngx_http_flipreader_module
FLIP_SRCS="$ngx_addon_dir/main.c"
if [ $USE_OPENSSL = YES ]; then
    FLIP_SRCS="$FLIP_SRCS $ngx_addon_dir/hmac.c"
fi
ngx_module_type=HTTP
ngx_module_name=$ngx_addon_name
ngx_module_srcs="$FLIP_SRCS"
. auto/module
`,
			"main.c": httpModule("ngx_http_flipreader_module", `#if (NGX_OPENSSL)
ngx_int_t ngx_http_flipreader_hmac(void);
ngx_int_t (*ngx_http_flipreader_use)(void) = ngx_http_flipreader_hmac;
#endif`),
			"hmac.c": "#include <ngx_config.h>\n#include <ngx_core.h>\n\nngx_int_t\nngx_http_flipreader_hmac(void)\n{\n    return 0;\n}\n",
		}),
		// Turns OpenSSL on in a way no reading of the file sees (as njs
		// does through its own sub-configs).
		synthetic(t, "flipper", map[string]string{
			"config": `ngx_addon_name=ngx_http_flipper_module
flip_lib=OPENSSL
eval USE_$flip_lib=YES
ngx_module_type=HTTP
ngx_module_name=$ngx_addon_name
ngx_module_srcs="$ngx_addon_dir/flipper.c"
. auto/module
`,
			"flipper.c": httpModule("ngx_http_flipper_module", ""),
		}),
		// Compiles and links, but uses a function nginx does not have:
		// it would not load, so it must not be listed as built.
		synthetic(t, "unresolved", map[string]string{
			"config": `ngx_addon_name=ngx_http_unresolved_module
ngx_module_type=HTTP
ngx_module_name=$ngx_addon_name
ngx_module_srcs="$ngx_addon_dir/unresolved.c"
. auto/module
`,
			"unresolved.c": httpModule("ngx_http_unresolved_module", `ngx_int_t ngx_http_no_such_function(void);
ngx_int_t (*ngx_http_unresolved_use)(void) = ngx_http_no_such_function;`),
		}),
	}
}

func maxmindModule(t *testing.T) Module {
	return synthetic(t, "geoipx", map[string]string{
		"config": `ngx_addon_name=ngx_http_geoipx_module
ngx_feature="MaxmindDB library"
ngx_feature_name=
ngx_feature_run=no
ngx_feature_incs="#include <maxminddb.h>"
ngx_feature_path=
ngx_feature_libs="-lmaxminddb"
ngx_feature_test="MMDB_s mmdb; MMDB_open(NULL, 0, &mmdb);"
. auto/feature
if [ $ngx_found = no ]; then
    echo "$0: error: the geoipx module requires the maxminddb library."
    exit 1
fi
ngx_module_type=HTTP
ngx_module_name=$ngx_addon_name
ngx_module_srcs="$ngx_addon_dir/geoipx.c"
ngx_module_libs="$ngx_feature_libs"
. auto/module
`,
		"geoipx.c": httpModule("ngx_http_geoipx_module", ""),
	})
}

func failuresOf(t *testing.T, err error) map[string]string {
	t.Helper()
	out := map[string]string{}
	var mf *ModulesFailed
	if err != nil && !errors.As(err, &mf) {
		t.Fatalf("cell failed as a whole: %v", err)
	}
	if mf != nil {
		for _, f := range mf.Failures {
			out[f.Module+" "+string(f.Phase)] = f.Error
		}
	}
	return out
}

func builtNames(res Result, nginx string) []string {
	var out []string
	for _, f := range res.Files {
		out = append(out, strings.TrimSuffix(filepath.Base(f), "_"+nginx+".so"))
	}
	sort.Strings(out)
	return out
}

// TestConfigPatterns builds the config patterns of real modules in one
// cell without stream, in two orders: what configure declared is built,
// a .so holding two modules is loaded once, sub-configs give a .so each,
// a config that turns OpenSSL on after another read it as off leads to a
// reconfigure, and the stream modules get stream configured
// (--with-stream=dynamic: before issue 34 the stream-only module failed,
// naming that argument). A .so with a symbol nginx lacks fails the
// symbol check both with the smoke test (checked against the built
// binary) and without it (against nginx's sources and libraries).
func TestConfigPatterns(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	mods := patternModules(t)
	var names []string
	reversed := slices.Clone(mods)
	slices.Reverse(reversed)
	for n, order := range [][]Module{mods, reversed} {
		o := options(t, mirror, "1.22.1", order...)
		if n == 0 {
			o.Smoke = &Smoke{}
		}
		res, err := Run(context.Background(), o)
		failed := failuresOf(t, err)
		wantBuilt := []string{"ngx_http_branchy_a_module", "ngx_http_flipper_module", "ngx_http_flipreader_module",
			"ngx_http_pair_module", "ngx_http_sub_filter_x_module", "ngx_http_sub_static_x_module", "ngx_stream_only_module", "ngx_stream_pair_module"}
		if diff := cmp.Diff(wantBuilt, builtNames(res, "1.22.1")); diff != "" {
			t.Errorf("built (-want +got):\n%s", diff)
		}
		if len(failed) != 1 || !strings.Contains(failed["ngx_http_unresolved_module symbols"], "undefined symbol(s) ngx_http_no_such_function") {
			t.Errorf("failures: %v", failed)
		}
		for _, f := range res.Files {
			if strings.Contains(f, "branchy") {
				if got := ModuleNames(filepath.Join(o.WorkDir, "objs", "ngx_http_branchy_a_module.so")); len(got) != 2 {
					t.Errorf("branchy .so holds %v, want both modules", got)
				}
			}
		}
		names = append(names, strings.Join(builtNames(res, "1.22.1"), " "))
	}
	if names[0] != names[1] {
		t.Errorf("the order changed the outcome:\n%s\n%s", names[0], names[1])
	}
}

// TestStreamAndMissingLibrary builds the STREAM-guarded pair with stream
// on (nginx's own ngx_stream_module.so is built and loads first, and is
// not written: the entry names it under nginx_modules) next to
// a module whose configure probe for maxminddb fails: that module's error
// is configure's own line, the failed probe and the package to install,
// and the others still build.
func TestStreamAndMissingLibrary(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	// Ask the compiler, which knows every include directory (Debian puts
	// the header under /usr/include/x86_64-linux-gnu). The test never
	// removes a package: the distrotest containers cover that.
	probe := exec.Command("cc", "-E", "-x", "c", "-")
	probe.Stdin = strings.NewReader("#include <maxminddb.h>\n")
	if probe.Run() == nil {
		testenv.Missing(t, "a machine without maxminddb.h (the compiler finds it)", "apt-get remove libmaxminddb-dev")
	}
	o := options(t, mirror, "1.22.1", maxmindModule(t), streamPair(t))
	o.Configure = []string{"--with-stream=dynamic"}
	o.Smoke = &Smoke{}
	res, err := Run(context.Background(), o)
	failed := failuresOf(t, err)
	msg := failed["ngx_http_geoipx_module configure"]
	for _, want := range []string{"./configure: error: the geoipx module requires the maxminddb library.",
		`failed probe "MaxmindDB library"`, "maxminddb.h", "install libmaxminddb-dev on debian-12", "packages: {apt: [libmaxminddb-dev]}"} {
		if !strings.Contains(msg, want) {
			t.Errorf("geoipx's error lacks %q:\n%s", want, msg)
		}
	}
	if len(failed) != 1 {
		t.Errorf("failures: %v", failed)
	}
	got := builtNames(res, "1.22.1")
	if diff := cmp.Diff([]string{"ngx_http_pair_module", "ngx_stream_pair_module"}, got); diff != "" {
		t.Errorf("built (-want +got):\n%s", diff)
	}
	// nginx's stream core loads first: the target must have it.
	for _, e := range res.Manifest.Entries {
		if e.Module == "ngx_stream_pair_module" && !slices.Equal(e.NginxModules, []string{"ngx_stream_module"}) {
			t.Errorf("ngx_stream_pair_module's nginx_modules %v, want [ngx_stream_module]", e.NginxModules)
		}
	}
}
