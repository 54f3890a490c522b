package modconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testenv"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		style      Style
		sos        []SO
	}{
		{"new style", `ngx_addon_name=ngx_http_hello_module
ngx_module_type=HTTP
ngx_module_name=$ngx_addon_name
ngx_module_srcs="$ngx_addon_dir/hello.c"
. auto/module
`, NewStyle, []SO{{Name: "ngx_http_hello_module", Modules: []string{"ngx_http_hello_module"}, Type: "HTTP"}}},
		{"two calls, two modules in one", `ngx_addon_name=pair   # a comment
if test -n "$ngx_module_link"; then
    ngx_module_type=HTTP
    ngx_module_name="ngx_http_a_module \
                     ngx_http_a2_module"
    ngx_module_libs="-lm"
    . auto/module

    ngx_module_type=HTTP_FILTER
    ngx_module_name=ngx_http_b_filter_module
    . auto/module
else
    HTTP_MODULES="$HTTP_MODULES ngx_http_a_module ngx_http_a2_module"
fi
`, NewStyle, []SO{
			{Name: "ngx_http_a_module", Modules: []string{"ngx_http_a_module", "ngx_http_a2_module"}, Type: "HTTP", Libs: []string{"-lm"}},
			{Name: "ngx_http_b_filter_module", Modules: []string{"ngx_http_b_filter_module"}, Type: "HTTP_FILTER", Libs: []string{"-lm"}},
		}},
		{"old style", `ngx_addon_name=ngx_http_old_filter_module
HTTP_AUX_FILTER_MODULES="$HTTP_AUX_FILTER_MODULES ngx_http_old_filter_module"
NGX_ADDON_SRCS="$NGX_ADDON_SRCS $ngx_addon_dir/old.c"
`, OldStyle, []SO{{Name: "ngx_http_old_filter_module", Modules: []string{"ngx_http_old_filter_module"}, Type: "HTTP_AUX_FILTER"}}},
		{"old style, stream, braces", `ngx_addon_name=s
STREAM_MODULES="${STREAM_MODULES} ngx_stream_s_module"
`, OldStyle, []SO{{Name: "ngx_stream_s_module", Modules: []string{"ngx_stream_s_module"}, Type: "STREAM"}}},
	}
	for _, tt := range tests {
		c, err := Parse(tt.text)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.Style != tt.style {
			t.Errorf("%s: style %s, want %s", tt.name, c.Style, tt.style)
		}
		if diff := cmp.Diff(tt.sos, c.SOs); diff != "" {
			t.Errorf("%s: SOs (-want +got):\n%s", tt.name, diff)
		}
	}
	for _, bad := range []string{"", "# nothing\nFOO=bar\n", "ngx_module_type=HTTP\n. auto/module\n"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) found a module", bad)
		}
	}
}

func TestOrder(t *testing.T) {
	t.Parallel()
	user, _ := Parse("ngx_addon_name=u\nif test -n \"$NDK_SRCS\"; then :; fi\nngx_module_name=u\n. auto/module\n")
	kit, _ := Parse("ngx_addon_name=k\nNDK_SRCS=\"$ngx_addon_dir/ndk.c\"\nngx_module_name=k\n. auto/module\n")
	other, _ := Parse("ngx_addon_name=o\nngx_module_name=o\nHTTP_MODULES=x\n. auto/module\n")
	got, err := Order([]*Config{user, other, kit})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{2, 0, 1}, got); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
	a, _ := Parse("A_SRCS=1\nx=$B_SRCS\nngx_module_name=a\n. auto/module\n")
	b, _ := Parse("B_SRCS=1\nx=$A_SRCS\nngx_module_name=b\n. auto/module\n")
	if _, err := Order([]*Config{a, b}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
}

// TestShimRunsUnderSh runs the shim with /bin/sh against a stand-in for
// nginx's auto/module, checking what an old-style config turns into.
func TestShimRunsUnderSh(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "config"), []byte(`ngx_addon_name=ngx_http_old_module
HTTP_AUX_FILTER_MODULES="$HTTP_AUX_FILTER_MODULES ngx_http_old_module"
NGX_ADDON_SRCS="$NGX_ADDON_SRCS $ngx_addon_dir/old.c"
`), 0o644)
	os.WriteFile(filepath.Join(src, "old.c"), []byte("int x;\n"), 0o644)
	dst := filepath.Join(t.TempDir(), "old")
	if err := Convert(src, dst); err != nil {
		t.Fatal(err)
	}
	if c, err := Analyze(dst); err != nil || c.Style != NewStyle {
		t.Fatalf("converted config: %+v, %v", c, err)
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "auto"), 0o755)
	os.WriteFile(filepath.Join(root, "auto", "module"),
		[]byte(`echo "module type=$ngx_module_type name=$ngx_module_name srcs=$ngx_module_srcs"`+"\n"), 0o644)
	script := `HTTP_AUX_FILTER_MODULES="a b"; NGX_ADDON_SRCS="x.c"; ngx_addon_dir=` + dst + `
. ` + dst + `/config
echo "after lists=$HTTP_AUX_FILTER_MODULES srcs=$NGX_ADDON_SRCS"
`
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	want := "module type=HTTP_AUX_FILTER name= ngx_http_old_module srcs= " + dst + "/old.c\nafter lists=a b srcs=x.c\n"
	if string(out) != want {
		t.Errorf("shim output:\n%s\nwant:\n%s", out, want)
	}
	if _, err := os.Stat(filepath.Join(src, OriginalName)); err == nil {
		t.Error("Convert changed the original directory")
	}
}

// TestRealModules analyses the configs of real third-party modules.
func TestRealModules(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "libnginx-mod-http-set-misc_0.33.orig.tar.gz")
	want := map[string]string{
		"libnginx-mod-http-echo_0.63":                "new ngx_http_echo_module",
		"libnginx-mod-http-headers-more-filter_0.34": "new ngx_http_headers_more_filter_module",
		"libnginx-mod-http-fancyindex_0.5.2":         "new ngx_http_fancyindex_module",
		"libnginx-mod-http-ndk_0.3.4":                "new ndk_http_module",
		"libnginx-mod-http-set-misc_0.33":            "new ngx_http_set_misc_module",
		"libnginx-mod-http-subs-filter_0.6.4":        "old ngx_http_subs_filter_module",
		"libnginx-mod-http-uploadprogress_0.9.4":     "new ngx_http_uploadprogress_module",
	}
	var cfgs []*Config
	var names []string
	for _, name := range []string{"libnginx-mod-http-set-misc_0.33", "libnginx-mod-http-echo_0.63", "libnginx-mod-http-ndk_0.3.4",
		"libnginx-mod-http-headers-more-filter_0.34", "libnginx-mod-http-fancyindex_0.5.2",
		"libnginx-mod-http-subs-filter_0.6.4", "libnginx-mod-http-uploadprogress_0.9.4"} {
		f, err := os.Open(filepath.Join(mirror, name+".orig.tar.gz"))
		if err != nil {
			t.Fatal(err)
		}
		dir, err := source.Extract(f, t.TempDir())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c, err := Analyze(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(c.Style) + " " + strings.Join(c.Names(), " "); got != want[name] {
			t.Errorf("%s: %s, want %s", name, got, want[name])
		}
		cfgs = append(cfgs, c)
		names = append(names, name)
	}
	order, err := Order(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, o := range order {
		pos[names[o]] = i
	}
	if pos["libnginx-mod-http-ndk_0.3.4"] > pos["libnginx-mod-http-set-misc_0.33"] {
		t.Errorf("set-misc ordered before ngx_devel_kit: %v", order)
	}
}
