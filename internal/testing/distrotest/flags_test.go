package distrotest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestGlobalFlagsStayTheirOwn is issue 34's item 5: encrypted-session as
// its maintainer publishes it calls OpenSSL's deprecated MD5(), which
// nginx's -Werror refuses on Debian 12's OpenSSL 3, by hand too; configured
// with Debian's ngx_brotli, whose config appends
// -Wno-deprecated-declarations to nginx's global CFLAGS, it "built". In a
// bare Debian 12 with --install-deps, built the upstream way, brotli is
// configured apart from the NDK and encrypted-session: brotli builds,
// encrypted-session fails with its own error, and the cell manifest
// records brotli's change.
func TestGlobalFlagsStayTheirOwn(t *testing.T) {
	mirror := testenv.Mirror(t, "debian-12/libnginx-mod-http-brotli_1.0.0~rc.orig.tar.gz")
	src, work := t.TempDir(), t.TempDir()
	for name, tarball := range map[string]string{"ndk": "libnginx-mod-http-ndk_0.3.2.orig.tar.gz", "brotli": "libnginx-mod-http-brotli_1.0.0~rc.orig.tar.gz"} {
		tmp := filepath.Join(t.TempDir(), name)
		extract(t, filepath.Join(mirror, "debian-12", tarball), tmp)
		if err := os.Rename(configDir(t, tmp), filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(testenv.Upstream(t, "encrypted-session-nginx-module"), filepath.Join(src, "encrypted-session")); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, filepath.Join(work, "cfg.yml"), []module{{name: "brotli"}, {name: "ndk"}, {name: "encrypted-session"}}, `location = /t { return 200; }`, "/t", "")
	c := toolContainer(t, "debian:12", mirror, src, work)
	// The upstream way (nginx.org's tarball, --with-compat), as the
	// issue's hand build: Debian's module tree (nginx-dev) compiles
	// without -Werror, where MD5() is only a warning.
	out, err := build(c, "cfg.yml", "1.22.1", "debian-12", "dist", "--target-nginx", "none")
	if err != nil && !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("build: %v\n%s", err, testenv.Tail(out, 40))
	}
	m := cellManifest(t, filepath.Join(work, "dist"))
	built := builtNames(m)
	for _, want := range []string{"ndk_http_module", "ngx_http_brotli_filter_module", "ngx_http_brotli_static_module"} {
		if !strings.Contains(strings.Join(built, " "), want) {
			t.Errorf("%s not built: %v\n%s", want, built, testenv.Tail(out, 40))
		}
	}
	var reason string
	for _, f := range m.Cells[0].Failures {
		if f.Module == "ngx_http_encrypted_session_module" {
			reason = f.Reason()
		}
	}
	if !strings.Contains(reason, "'MD5' is deprecated") && !strings.Contains(reason, "‘MD5’ is deprecated") {
		t.Errorf("encrypted-session: built %v, failure %q; want its own MD5 deprecation error\n%s", built, reason, testenv.Tail(out, 40))
	}
	var changes []string
	for _, g := range m.Cells[0].GlobalFlags {
		changes = append(changes, g.Module+": "+g.Change)
	}
	if !strings.Contains(strings.Join(changes, "\n"), "CFLAGS += -Wno-deprecated-declarations") {
		t.Errorf("global flags recorded: %q, want brotli's CFLAGS += -Wno-deprecated-declarations", changes)
	}
	t.Logf("global flags: %q; encrypted-session: %s", changes, reason)
}
