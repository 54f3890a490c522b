package distrotest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestPCRE1ModuleOnDebian12: subs-filter 0.6.4 calls the PCRE1 API
// (pcre_fullinfo on nginx's own compiled regex) and Debian 12's nginx
// 1.22.1 is built with PCRE2. In a bare debian:12:
//   - built as is, it fails to compile, naming pcre_fullinfo, and the
//     hint does not send the user to --without-pcre2;
//   - with --without-pcre2 the nginx built here links libpcre.so.3, so the
//     .so passes the checks against it, and the cell still fails: Debian
//     12's own nginx (the packaged cell's target) lacks pcre_fullinfo;
//   - the .so that --target-nginx none lets out is refused by Debian's
//     nginx -t, and check --nginx /usr/sbin/nginx says so too, naming the
//     symbol: they agree.
func TestPCRE1ModuleOnDebian12(t *testing.T) {
	mirror := testenv.Mirror(t, "debian-12/libnginx-mod-http-subs-filter_0.6.4.orig.tar.gz")
	const image = "debian:12"
	testenv.Image(t, image)
	ctx := context.Background()
	work := t.TempDir()
	src := filepath.Join(work, "src")
	tmp := filepath.Join(t.TempDir(), "sf")
	extract(t, filepath.Join(mirror, "debian-12", "libnginx-mod-http-subs-filter_0.6.4.orig.tar.gz"), tmp)
	os.MkdirAll(src, 0o755)
	if err := os.Rename(configDir(t, tmp), filepath.Join(src, "subs-filter")); err != nil {
		t.Fatal(err)
	}
	smoke := `location = /t { return 200 ok; }`
	writeConfig(t, filepath.Join(work, "as-is.yml"), []module{{name: "subs-filter"}}, smoke, "/t", "")
	writeConfig(t, filepath.Join(work, "pcre1.yml"), []module{{name: "subs-filter", packages: []string{"libpcre3-dev"}}}, smoke, "/t", "--without-pcre2")
	c := toolContainer(t, image, mirror, src, work)

	out, err := build(c, "as-is.yml", "1.22.1", "debian-12", "as-is")
	if err == nil {
		t.Fatalf("subs-filter 0.6.4 built against nginx 1.22.1 with PCRE2:\n%s", testenv.Tail(out, 30))
	}
	m := cellManifest(t, filepath.Join(work, "as-is"))
	if f := m.Cells[0].Failures; len(f) != 1 || f[0].Phase != "compile" || !strings.Contains(f[0].Reason(), "pcre_fullinfo") ||
		!strings.Contains(f[0].Error, "supports PCRE2") || strings.Contains(f[0].Error, "add --without-pcre2") {
		t.Errorf("as is: failures %+v", f)
	}

	// --target-nginx PATH, not auto: the version way, judged by Debian's
	// nginx too (auto would build like it, and leave --without-pcre2 out).
	out, err = build(c, "pcre1.yml", "1.22.1", "debian-12", "pcre1", "--target-nginx", "/usr/sbin/nginx")
	if err == nil {
		t.Fatalf("with --without-pcre2 the cell passed, though Debian 12's own nginx cannot load the .so:\n%s", testenv.Tail(out, 30))
	}
	if !strings.Contains(out, "nginx -t: 1 .so file(s) load") && !strings.Contains(out, "symbols resolve") {
		t.Logf("(the nginx built here did not accept it either)\n%s", testenv.Tail(out, 30))
	}
	m = cellManifest(t, filepath.Join(work, "pcre1"))
	if f := m.Cells[0].Failures; len(f) != 1 || !strings.Contains(f[0].Error, "pcre_fullinfo") ||
		!strings.Contains(f[0].Error, "/usr/sbin/nginx") || !strings.Contains(f[0].Error, "libs: [-lpcre]") || len(m.Entries) != 0 {
		t.Errorf("--without-pcre2: failures %+v, entries %+v\n%s", f, m.Entries, testenv.Tail(out, 30))
	}

	// The trap: proven by the nginx built here only.
	out, err = build(c, "pcre1.yml", "1.22.1", "debian-12", "trap", "--target-nginx", "none")
	if err != nil {
		t.Fatalf("--without-pcre2 --target-nginx none: %v\n%s", err, testenv.Tail(out, 30))
	}
	so := "/work/trap/ngx_http_subs_filter_module_1.22.1.so"
	c.Shell(ctx, "mkdir -p /tmp/t && printf 'load_module "+so+";\\nevents {}\\n' > /tmp/t/nginx.conf")
	testOut, terr := c.Exec(ctx, nil, "nginx", "-t", "-c", "/tmp/t/nginx.conf")
	checkOut, cerr := c.Exec(ctx, nil, "nginx-modbuild", "check", "--conf", "/tmp/t/nginx.conf", "--nginx-binary", "/usr/sbin/nginx")
	if terr == nil || !strings.Contains(testOut, "undefined symbol: pcre_fullinfo") {
		t.Errorf("Debian 12's nginx -t accepted the .so: %v\n%s", terr, testOut)
	}
	if cerr == nil || !strings.Contains(checkOut, "pcre_fullinfo") {
		t.Errorf("check disagrees with nginx -t (which refused the .so): %v\n%s", cerr, checkOut)
	}
}
