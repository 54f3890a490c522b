package distrotest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestDebBesideDistrosOwnPackage is issue 33's first item: the echo
// module's .deb, built from Debian's own echo source for the release's
// nginx and installed from its signed repository, and Debian's
// libnginx-mod-http-echo (from Debian's archive) replace each other in
// either order with real apt in bare Debian 12 and 13: no "trying to
// overwrite", dpkg --audit clean, one load_module of echo enabled (in
// Debian's own place and name, 50-mod-http-echo.conf), nginx -t passes.
func TestDebBesideDistrosOwnPackage(t *testing.T) {
	mirror := testenv.Mirror(t, "debian-12/libnginx-mod-http-echo_0.63.orig.tar.gz")
	key := signingKey(t)
	for _, r := range []struct{ image, distro, nginx string }{
		{"debian:12", "debian-12", "1.22.1"},
		{"debian:13", "debian-13", "1.26.3"},
	} {
		t.Run(r.distro, func(t *testing.T) {
			work := t.TempDir()
			src := filepath.Join(work, "src")
			tmp := filepath.Join(t.TempDir(), "echo")
			extract(t, filepath.Join(mirror, r.distro, "libnginx-mod-http-echo_0.63.orig.tar.gz"), tmp)
			os.MkdirAll(src, 0o755)
			if err := os.Rename(configDir(t, tmp), filepath.Join(src, "echo")); err != nil {
				t.Fatal(err)
			}
			writeConfig(t, filepath.Join(work, "echo.yml"), []module{{name: "echo"}}, `location = /t { echo "hi"; }`, "/t", "")
			c := toolContainer(t, r.image, mirror, src, work)
			if out, err := build(c, "echo.yml", r.nginx, r.distro, "dist", "--packages"); err != nil {
				t.Fatalf("build --packages: %v\n%s", err, testenv.Tail(out, 40))
			}
			keyFile := filepath.Join(work, "key.asc")
			os.WriteFile(keyFile, key, 0o600)
			pub := filepath.Join(t.TempDir(), "pub")
			runTool(t, "release", "--dir", pub, "--dist", filepath.Join(work, "dist"), "--repositories", "--signing-key", keyFile)
			so, err := os.ReadFile(filepath.Join(work, "dist", "ngx_http_echo_module_"+r.nginx+".so"))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(so)
			ours := hex.EncodeToString(sum[:])
			srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
			defer srv.Close()

			ctx := context.Background()
			h := testenv.StartContainer(t, r.image)
			h.Shell(ctx, setupLines(srv.URL, r.distro, true)+"\napt-get update -q >/dev/null")
			// The order the issue met: ours, then Debian's.
			swap(t, h, "nginx-module-echo", "", ours)
			swap(t, h, "libnginx-mod-http-echo", "nginx-module-echo", "")
			// And back: ours over Debian's.
			swap(t, h, "nginx-module-echo", "libnginx-mod-http-echo", ours)

			// Removed while the configuration uses it: the package goes,
			// dpkg stays consistent, and it says what to do; it never
			// stops the transaction half way (it exited 1 before).
			h.Shell(ctx, `echo 'server { listen 127.0.0.1:9; location = /e { echo hi; } }' > /etc/nginx/conf.d/echo.conf; nginx -t 2>&1`)
			out, err := h.Exec(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, "sh", "-c", "apt-get remove -y -q nginx-module-echo 2>&1")
			t.Logf("apt-get remove nginx-module-echo, in use:\n%s", testenv.Tail(out, 10))
			if err != nil || !strings.Contains(out, "removed, but the configuration still uses it") {
				t.Errorf("apt-get remove of a module in use: %v\n%s", err, testenv.Tail(out, 30))
			}
			if audit := h.Shell(ctx, "dpkg --audit 2>&1"); strings.TrimSpace(audit) != "" {
				t.Errorf("after removing a module in use, dpkg --audit: %s", audit)
			}
		})
	}
}

// swap installs pkg with apt-get in c and checks the host after it: the
// package that held echo before (removed; "" for none) is gone, dpkg is
// consistent, pkg owns the .so (with the bytes sha, when given), exactly
// one echo snippet is enabled, Debian's name for it, and nginx -t passes.
func swap(t *testing.T, c *testenv.Container, pkg, removed, sha string) {
	t.Helper()
	ctx := context.Background()
	out, err := c.Exec(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, "sh", "-c", "apt-get install -y -q "+pkg+" 2>&1")
	t.Logf("apt-get install %s:\n%s", pkg, testenv.Tail(out, 14))
	if err != nil || strings.Contains(out, "trying to overwrite") {
		t.Fatalf("apt-get install %s: %v\n%s", pkg, err, testenv.Tail(out, 30))
	}
	if removed != "" && !(strings.Contains(out, "REMOVED") && strings.Contains(out, "Removing "+removed)) {
		t.Errorf("apt-get install %s did not say it removes %s:\n%s", pkg, removed, testenv.Tail(out, 30))
	}
	if audit := c.Shell(ctx, "dpkg --audit 2>&1"); strings.TrimSpace(audit) != "" {
		t.Errorf("after installing %s, dpkg --audit: %s", pkg, audit)
	}
	if removed != "" {
		if st := c.Shell(ctx, "dpkg-query -W -f='${db:Status-Abbrev}' "+removed+" 2>/dev/null || true"); strings.HasPrefix(st, "ii") {
			t.Errorf("%s is still installed beside %s (%s)", removed, pkg, st)
		}
	}
	owner := c.Shell(ctx, "dpkg -S /usr/lib/nginx/modules/ngx_http_echo_module.so")
	if !strings.HasPrefix(owner, pkg+":") {
		t.Errorf("the .so belongs to %q, want %s", strings.TrimSpace(owner), pkg)
	}
	if sha != "" {
		if got := c.Shell(ctx, "sha256sum /usr/lib/nginx/modules/ngx_http_echo_module.so"); !strings.HasPrefix(got, sha) {
			t.Errorf("the .so installed by %s is not the one built: %s", pkg, got)
		}
	}
	// What nginx includes (modules-enabled/*.conf; Debian's postrm keeps
	// a removed link as NAME.conf.removed, which nginx does not read).
	if got := strings.Fields(c.Shell(ctx, "cd /etc/nginx/modules-enabled && grep -l ngx_http_echo_module *.conf || true")); len(got) != 1 || got[0] != "50-mod-http-echo.conf" {
		t.Errorf("after installing %s, the echo snippets enabled: %v, want [50-mod-http-echo.conf]", pkg, got)
	}
	c.Shell(ctx, "nginx -t 2>&1")
}
