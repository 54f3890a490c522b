package distrotest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestNJS builds njs 0.8.9 (Debian 13's libnginx-mod-js; the archive
// does not serve its orig, so the copy in ../shared/vendor) in a bare
// debian:13 with --install-deps: its config.make, which nginx's auto/make
// reads from the addon directory, builds libnjs.a; its config turns on
// nginx's LIBXSLT switch through a variable no reading of the config
// sees, so the tool learns it from configure's failure and installs
// libxslt. Its stream part gets stream configured whether the config
// asks for --with-stream=dynamic or not (before issue 34 it was silently
// not built without it); both .so files load into Debian 13's own nginx
// after its libnginx-mod-stream, and it runs JavaScript.
func TestNJS(t *testing.T) {
	vendor := testenv.Input(t, "vendor/njs-0.8.9.tar.gz")
	mirror := testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	const image = "debian:13"
	testenv.Image(t, image)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	extract(t, vendor, src)
	if err := os.Rename(filepath.Join(src, "njs-0.8.9"), filepath.Join(src, "njs")); err != nil {
		t.Fatal(err)
	}
	mods := []module{{name: "njs/nginx"}}
	const smokeConf = `location = /t { return 200 ok; }`
	writeConfig(t, filepath.Join(work, "http.yml"), mods, smokeConf, "/t", "")
	writeConfig(t, filepath.Join(work, "stream.yml"), mods, smokeConf, "/t", "--with-stream=dynamic")
	c := toolContainer(t, image, mirror, src, work)

	for _, v := range []struct {
		config string
		want   []string
	}{
		// njs's config has a stream part (ngx_module_type=STREAM under
		// $STREAM): the tool configures stream for it either way, and
		// nginx's own ngx_stream_module.so is the target's, not written.
		{"http", []string{"ngx_http_js_module", "ngx_stream_js_module"}},
		{"stream", []string{"ngx_http_js_module", "ngx_stream_js_module"}},
	} {
		out, err := build(c, v.config+".yml", "1.26.3", "debian-13", "dist-"+v.config)
		os.WriteFile(filepath.Join(work, v.config+".log"), []byte(out), 0o644)
		if err != nil {
			t.Fatalf("njs (%s): nginx-modbuild build: %v\n%s", v.config, err, testenv.Tail(out, 60))
		}
		m := cellManifest(t, filepath.Join(work, "dist-"+v.config))
		if diff := cmp.Diff(v.want, builtNames(m)); diff != "" {
			t.Errorf("njs (%s): built (-want +got):\n%s", v.config, diff)
		}
		// The tool proved them against Debian 13's own nginx itself.
		if !strings.Contains(out, "the distro's own nginx -t (/usr/sbin/nginx): "+strconv.Itoa(loadedCount(m))+" .so file(s) load") {
			t.Errorf("njs (%s): not loaded into Debian 13's own nginx by the build:\n%s", v.config, testenv.Tail(out, 30))
		}
		if v.config != "stream" {
			continue
		}
		// And a fresh container of the release's nginx runs JavaScript
		// through the http module, with the stream modules loaded too.
		dist := filepath.Join(work, "dist-"+v.config)
		js := "function hello(r) { r.return(200, 'hello from njs\\n'); }\nexport default {hello};\n"
		if err := os.WriteFile(filepath.Join(dist, "hello.js"), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(builtNames(m), "ngx_http_js_module") {
			t.Fatal("no http js module to load")
		}
		conf := "js_import hello from /dist/hello.js;\nlocation = /js { js_content hello.hello; }"
		testOut, got := loadInto(t, image, dist, m, runtimePackages(t, c, "/work/dist-"+v.config), conf, "/js")
		if !strings.Contains(testOut, "test is successful") {
			t.Fatalf("Debian 13's own nginx -t with njs:\n%s", testOut)
		}
		if got["/js"] != "200 hello from njs\n" {
			t.Errorf("GET /js = %q, want 200 \"hello from njs\\n\"", got["/js"])
		}
	}
}
