package compile

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testenv"
)

// Checksums of the nginx tarballs Debian's archive serves without .asc.
var pinned = map[string]string{
	"1.22.1": "9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31",
	"1.26.3": "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa",
}

// realModule extracts a Debian-packaged module's orig tarball.
func realModule(t *testing.T, mirror, tarball string) Module {
	t.Helper()
	f, err := os.Open(filepath.Join(mirror, tarball))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir, err := source.Extract(f, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Module{ID: tarball, Dir: dir}
}

func helloWorld() Module {
	return Module{ID: "examples/hello-world", Dir: filepath.Join(testenv.RepoRoot(), "examples", "hello-world")}
}

func prerequisites(t *testing.T) (mirror string) {
	t.Helper()
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "make", "make")
	return testenv.Mirror(t, "libnginx-mod-http-uploadprogress_0.9.4.orig.tar.gz")
}

func options(t *testing.T, mirror, nginx string, mods ...Module) Options {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(mirror)))
	t.Cleanup(srv.Close)
	kr, err := source.NewKeyring("http://127.0.0.1:1/", http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Nginx: nginx, Distro: "debian-12", Arch: runtime.GOARCH, Modules: mods,
		Source:  source.Options{Mirror: srv.URL + "/", CacheDir: t.TempDir(), SHA256: pinned, Keyring: kr, HTTP: http.DefaultClient},
		WorkDir: t.TempDir(), Out: t.TempDir(), Jobs: runtime.NumCPU(),
		Log: &Log{W: testWriter{t}},
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func names(files []string) []string {
	var out []string
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	sort.Strings(out)
	return out
}

// TestBuildRealModulesAgainstDebianNginx is the main acceptance test: eight
// real modules against nginx 1.22.1 in one configure. Two fail, each
// reported under its name with the compiler's words, while the other six
// are built, pass the smoke test, and load into Debian's own nginx 1.22.1,
// which then serves the echo location:
//   - uploadprogress 0.9.4 uses ngx_table_elt_t.next, which arrived in 1.23.0;
//   - subs-filter 0.6.4 (old-style config, converted) uses the PCRE1 API,
//     and nginx 1.22.1 builds against PCRE2 when it is installed, as
//     Debian's nginx is (Debian patches the module). See
//     TestOldStyleModuleBuildsAndWorks for it built --without-pcre2.
func TestBuildRealModulesAgainstDebianNginx(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	debianNginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	o := options(t, mirror, "1.22.1",
		helloWorld(),
		realModule(t, mirror, "libnginx-mod-http-echo_0.63.orig.tar.gz"),
		realModule(t, mirror, "libnginx-mod-http-headers-more-filter_0.34.orig.tar.gz"),
		realModule(t, mirror, "libnginx-mod-http-fancyindex_0.5.2.orig.tar.gz"),
		realModule(t, mirror, "libnginx-mod-http-set-misc_0.33.orig.tar.gz"), // before ndk: the build must reorder
		realModule(t, mirror, "libnginx-mod-http-ndk_0.3.4.orig.tar.gz"),
		realModule(t, mirror, "libnginx-mod-http-subs-filter_0.6.4.orig.tar.gz"),
		realModule(t, mirror, "libnginx-mod-http-uploadprogress_0.9.4.orig.tar.gz"),
	)
	o.Smoke = &Smoke{Config: `location = /hello { hello_world "Hello, world"; }`, Request: "/hello"}

	res, err := Run(context.Background(), o)
	var mf *ModulesFailed
	if !errors.As(err, &mf) {
		t.Fatalf("want a ModulesFailed error for uploadprogress, got %v", err)
	}
	failed := map[string]string{}
	for _, f := range mf.Failures {
		failed[f.Module] = f.Error
	}
	if len(failed) != 2 || !strings.Contains(failed["ngx_http_uploadprogress_module"], "has no member named ‘next’") ||
		!strings.Contains(failed["ngx_http_subs_filter_module"], "pcre_fullinfo") {
		t.Fatalf("failures = %+v", mf.Failures)
	}
	want := []string{
		"ndk_http_module_1.22.1.so", "ngx_http_echo_module_1.22.1.so", "ngx_http_fancyindex_module_1.22.1.so",
		"ngx_http_headers_more_filter_module_1.22.1.so", "ngx_http_hello_world_module_1.22.1.so",
		"ngx_http_set_misc_module_1.22.1.so",
	}
	if got := names(res.Files); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("built %v\nwant %v", got, want)
	}
	if len(res.Manifest.Entries) != 6 || len(res.Manifest.Cells) != 1 || len(res.Manifest.Cells[0].Failures) != 2 {
		t.Errorf("manifest: %d entries, cells %+v", len(res.Manifest.Entries), res.Manifest.Cells)
	}
	for _, e := range res.Manifest.Entries {
		if e.Signature != "8,4,8,0011111111010111001111111111111111" || len(e.SHA256) != 64 {
			t.Errorf("%s: signature %q sha256 %q", e.File, e.Signature, e.SHA256)
		}
	}
	if _, err := os.Stat(filepath.Join(o.Out, "manifest-1.22.1-debian-12-"+runtime.GOARCH+".json")); err != nil {
		t.Error(err)
	}

	// Debian's nginx loads them all and serves the echo location.
	srv, err := NewServer(debianNginx, t.TempDir(), res.Files, `
location = /echo { echo "hello from echo"; }
location = /hello { hello_world "Hello, world"; }
location = /misc { set_quote_sql_str $q "it's"; more_set_headers "X-Quoted: $q"; return 204; }
location = /dir { fancyindex on; }
`)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := srv.Test(context.Background()); err != nil {
		t.Fatalf("Debian's nginx -t: %v\n%s", err, out)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	for path, want := range map[string]string{"/echo": "hello from echo\n", "/hello": "Hello, world\n"} {
		status, body, err := srv.Get(context.Background(), path)
		if err != nil || status != 200 || body != want {
			t.Errorf("GET %s = %d %q, %v; want 200 %q\n%s", path, status, body, err, want, srv.ErrorLog())
		}
	}
}

// TestOldStyleModuleBuildsAndWorks builds subs-filter, whose config is
// old-style (nginx alone would build no .so for it), with the PCRE1 API it
// needs, and proves the converted module works in the smoke test.
func TestOldStyleModuleBuildsAndWorks(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	o := options(t, mirror, "1.22.1", helloWorld(), realModule(t, mirror, "libnginx-mod-http-subs-filter_0.6.4.orig.tar.gz"))
	o.Configure = []string{"--without-pcre2"}
	o.Smoke = &Smoke{
		Config:  "location = /subs { subs_filter_types text/plain; subs_filter world there; hello_world \"Hello, world\"; }",
		Request: "/subs",
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(res.Files), " "); got != "ngx_http_hello_world_module_1.22.1.so ngx_http_subs_filter_module_1.22.1.so" {
		t.Errorf("built %s", got)
	}
}
