package distrotest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	releases := []struct{ image, distro, codename, nginx string }{
		{"debian:12", "debian-12", "bookworm", "1.22.1"},
		{"debian:13", "debian-13", "trixie", "1.26.3"},
	}
	// One repository with both releases' builds, as a module's has.
	work := t.TempDir()
	writeConfig(t, filepath.Join(work, "echo.yml"), []module{{name: "echo"}}, `location = /t { echo "hi"; }`, "/t", "")
	ours := map[string]string{} // the .so's SHA-256 by distro
	for _, r := range releases {
		src := filepath.Join(t.TempDir(), "src")
		tmp := filepath.Join(t.TempDir(), "echo")
		extract(t, filepath.Join(mirror, r.distro, "libnginx-mod-http-echo_0.63.orig.tar.gz"), tmp)
		os.MkdirAll(src, 0o755)
		if err := os.Rename(configDir(t, tmp), filepath.Join(src, "echo")); err != nil {
			t.Fatal(err)
		}
		c := toolContainer(t, r.image, mirror, src, work)
		if out, err := build(c, "echo.yml", r.nginx, r.distro, "dist/"+r.distro, "--packages"); err != nil {
			t.Fatalf("%s: build --packages: %v\n%s", r.distro, err, testenv.Tail(out, 40))
		}
		so, err := os.ReadFile(filepath.Join(work, "dist", r.distro, "ngx_http_echo_module_"+r.nginx+".so"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(so)
		ours[r.distro] = hex.EncodeToString(sum[:])
	}
	keyFile := filepath.Join(work, "key.asc")
	os.WriteFile(keyFile, key, 0o600)
	pub := filepath.Join(t.TempDir(), "pub")
	runTool(t, "release", "--dir", pub, "--dist", filepath.Join(work, "dist"), "--repositories", "--signing-key", keyFile)
	for _, r := range releases {
		deb := filepath.Join(pub, "ngx_http_echo_module_"+r.nginx+"_"+r.distro+"_amd64.deb")
		x := t.TempDir()
		if out, err := exec.Command("dpkg-deb", "-x", deb, x).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x %s: %v\n%s", deb, err, out)
		}
		so, _ := os.ReadFile(filepath.Join(x, "usr", "lib", "nginx", "modules", "ngx_http_echo_module.so"))
		if sum := sha256.Sum256(so); hex.EncodeToString(sum[:]) != ours[r.distro] {
			t.Errorf("%s: the published package's .so has SHA-256 %x, the build's %s", r.distro, sum, ours[r.distro])
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	defer srv.Close()

	for _, r := range releases {
		t.Run(r.distro, func(t *testing.T) {
			ctx := context.Background()
			h := testenv.StartContainer(t, r.image)
			h.Shell(ctx, setupLines(srv.URL, r.distro, true)+"\napt-get update -q >/dev/null")
			// The order the issue met: ours, then Debian's.
			swap(t, h, "nginx-module-echo", "", ours[r.distro])
			swap(t, h, "libnginx-mod-http-echo", "nginx-module-echo", "")
			// And back: ours over Debian's.
			swap(t, h, "nginx-module-echo", "libnginx-mod-http-echo", ours[r.distro])

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
			if r.distro == "debian-12" {
				upgradeCarriesTheModule(t, h, srv.URL, ours["debian-13"])
			} else {
				upgradeWithoutABuild(t, h)
			}
		})
	}
}

// upgradeCarriesTheModule is issue 33's second item, on a Debian 12 host
// whose configuration uses echo from our repository, listed by codename
// (bookworm), as Debian's own lines are:
//   - nginx from trixie while our line still says bookworm (no build of
//     ours for that nginx there): apt's plan removes the module before it
//     installs anything;
//   - the line rewritten to trixie, as a dist-upgrade rewrites every
//     line: installing trixie's nginx upgrades the module to the
//     repository's build for it in the same transaction; dpkg --audit is
//     clean, nginx -t passes with the configuration still using echo.
func upgradeCarriesTheModule(t *testing.T, h *testenv.Container, url, trixieSO string) {
	t.Helper()
	ctx := context.Background()
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	h.Shell(ctx, setupLines(url, "bookworm", false)+"\napt-get update -q >/dev/null")
	swap(t, h, "nginx-module-echo", "", "")
	h.Shell(ctx, `nginx -t 2>&1 && sed 's/bookworm/trixie/g' /etc/apt/sources.list > /etc/apt/sources.list.d/trixie.list && apt-get update -q >/dev/null`)

	// Our line still at bookworm: apt prints the plan before it does
	// anything.
	planRemovesFirst(t, h, "trixie")

	h.Shell(ctx, `sed -i 's/ bookworm / trixie /' /etc/apt/sources.list.d/nginx-modbuild.list && apt-get update -q >/dev/null`)
	out, err := h.Exec(ctx, env, "sh", "-c", "apt-get install -y -q -t trixie nginx 2>&1")
	t.Logf("apt-get install -t trixie nginx, our line at trixie:\n%s", testenv.Tail(out, 16))
	// (Debian's own libssl3 -> libssl3t64 transition removes libssl3.)
	if err != nil || strings.Contains(out, "Removing nginx-module-echo") || !strings.Contains(out, "+nginx1.26.3-1) over (") {
		t.Fatalf("nginx from trixie with our build for it: the module is not upgraded along (%v):\n%s", err, testenv.Tail(out, 40))
	}
	if audit := h.Shell(ctx, "dpkg --audit 2>&1"); strings.TrimSpace(audit) != "" {
		t.Errorf("after the upgrade, dpkg --audit: %s", audit)
	}
	if v := h.Shell(ctx, "dpkg-query -W -f='${Version}' nginx-module-echo"); !strings.Contains(v, "nginx1.26.3") {
		t.Errorf("after the upgrade, nginx-module-echo is %s, want the build for nginx 1.26.3", v)
	}
	if got := h.Shell(ctx, "sha256sum /usr/lib/nginx/modules/ngx_http_echo_module.so"); !strings.HasPrefix(got, trixieSO) {
		t.Errorf("after the upgrade, the .so is not the debian-13 build: %s", got)
	}
	// The configuration still uses echo (conf.d/echo.conf): nginx -t.
	h.Shell(ctx, "nginx -v 2>&1 | grep -q 1.26.3 && nginx -t 2>&1")
}

// upgradeWithoutABuild is issue 33's second item on a Debian 13 host
// whose configuration uses echo from our repository (trixie): nginx from
// the next release (forky, Debian's testing: nginx 1.30.6 on 2026-12-03),
// for which the repository has no build. apt's plan removes the module
// before it unpacks nginx; the real transaction completes, dpkg --audit
// is clean, and the module's prerm says what to do, because the
// configuration still uses it.
func upgradeWithoutABuild(t *testing.T, h *testenv.Container) {
	t.Helper()
	ctx := context.Background()
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	swap(t, h, "nginx-module-echo", "", "")
	// The archive here is a snapshot: forky's InRelease (30 Oct) is past
	// its Valid-Until, which apt checks for testing; its signature is
	// still verified (check-valid-until=no, as for snapshot.debian.org).
	h.Shell(ctx, `nginx -t 2>&1 && sed 's/^deb /deb [check-valid-until=no] /; s/ trixie / forky /' /etc/apt/sources.list > /etc/apt/sources.list.d/forky.list && apt-get update -q >/dev/null`)
	if !planRemovesFirst(t, h, "forky") {
		return
	}
	out, err := h.Exec(ctx, env, "sh", "-c", "apt-get install -y -q -t forky nginx 2>&1")
	t.Logf("apt-get install -t forky nginx:\n%s", testenv.Tail(out, 16))
	if err != nil || !strings.Contains(out, "Removing nginx-module-echo") || !strings.Contains(out, "removed, but the configuration still uses it") {
		t.Errorf("nginx from forky: %v, want the module removed, saying what to do:\n%s", err, testenv.Tail(out, 40))
	}
	if audit := h.Shell(ctx, "dpkg --audit 2>&1"); strings.TrimSpace(audit) != "" {
		t.Errorf("after the upgrade to forky's nginx, dpkg --audit: %s", audit)
	}
	if v := h.Shell(ctx, "dpkg-query -W -f='${Version}' nginx"); strings.HasPrefix(v, "1.26.") {
		t.Errorf("nginx is still %s after the upgrade", v)
	}
	if st := h.Shell(ctx, "dpkg-query -W -f='${db:Status-Abbrev}' nginx-module-echo 2>/dev/null || true"); strings.HasPrefix(st, "ii") {
		t.Errorf("nginx-module-echo is still installed beside forky's nginx: %s", st)
	}
}

// planRemovesFirst checks apt's plan for nginx from release with no
// build of ours for it: the module is removed before nginx is unpacked
// (libc6 and the like, which the module does not hold, may come first).
func planRemovesFirst(t *testing.T, h *testenv.Container, release string) bool {
	t.Helper()
	plan, err := h.Exec(context.Background(), []string{"DEBIAN_FRONTEND=noninteractive"}, "sh", "-c", "apt-get install -s -q -t "+release+" nginx 2>&1")
	_, removed, _ := strings.Cut(plan, "The following packages will be REMOVED:\n")
	removed, _, _ = strings.Cut(removed, "\nThe following")
	remv, inst := strings.Index(plan, "Remv nginx-module-echo"), strings.Index(plan, "Inst nginx ")
	t.Logf("apt-get install -s -t %s nginx, no build of ours for it:\n%s", release, testenv.Tail(plan, 12))
	if err != nil || !slices.Contains(strings.Fields(removed), "nginx-module-echo") || remv < 0 || inst < 0 || remv > inst {
		t.Errorf("nginx from %s with no build of ours for it: the plan does not remove the module before it unpacks nginx (%v):\n%s", release, err, testenv.Tail(plan, 40))
		return false
	}
	return true
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
