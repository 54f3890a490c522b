package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// hostState is what a package install may touch on this machine: the
// files under nginx's configuration and modules directories (contents and
// link targets) and whether the test package is installed.
func hostState(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range []string{"/etc/nginx", "/usr/lib/nginx/modules", "/usr/share/nginx/modules-available"} {
		for p, v := range tree(t, root) {
			// Directory times change with dpkg's own bookkeeping; contents
			// and links are what matter.
			if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
				v = "dir"
			} else if i := strings.Index(v, " "); i > 0 {
				if j := strings.Index(v[i+1:], " "); j > 0 {
					v = v[:i] + v[i+1+j:] // drop the modification time
				}
			}
			out[p] = v
		}
	}
	st, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "nginx-module-hello-world").Output()
	out["dpkg: nginx-module-hello-world"] = string(st)
	return out
}

// TestDebPackageOnDebian is issue 14's acceptance on this Debian 12
// machine: build --packages makes a .deb of hello-world for Debian's
// nginx 1.22.1 that dpkg installs with the module enabled and nginx -t
// passing, and removes with the snippet gone and nginx -t still passing; a
// .deb built for 1.26.3 is refused by apt (unmet dependency) with the host
// untouched. The release holds the packages, lists them in the manifest
// and checksums, and its notes link them.
func TestDebPackageOnDebian(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	nginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	testenv.Tool(t, "dpkg", "dpkg")
	testenv.Tool(t, "apt-get", "apt")
	mirror := testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (dpkg -i)", "run the tests as root")
	}
	repo, _ := helloRepo(t, `nginx:
  sha256:
    1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31
    1.26.3: 69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa
modules: [{path: .}]
distros: [debian-12]
packages:
  enabled: true
  version: "0.1"
  maintainer: Jane Doe <jane@example.com>
  homepage: https://example.com/hello
  license: BSD-2-Clause
`)
	h := newHarness(t)
	h.releaseRepo()
	if r := h.runIn(repo, "build", "--nginx", "1.22.1,1.26.3", "--mirror", mirror, "--smoke=false", "--distro", "debian-12",
		"--arch", "amd64", "--cache-dir", t.TempDir()); r.code != 0 {
		t.Fatalf("build: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	deb := func(v string) string {
		return filepath.Join(repo, "dist", "ngx_http_hello_world_module_"+v+"_debian-12_amd64.deb")
	}
	for _, v := range []string{"1.22.1", "1.26.3"} {
		if _, err := os.Stat(deb(v)); err != nil {
			t.Fatalf("no package for %s: %v", v, err)
		}
	}

	testenv.HostLock(t)
	t.Cleanup(func() { exec.Command("dpkg", "--purge", "nginx-module-hello-world").Run() })
	if out, err := exec.Command(nginx, "-t").CombinedOutput(); err != nil {
		t.Fatalf("this machine's nginx -t fails before the test: %v\n%s", err, out)
	}
	before := hostState(t)
	apt := func(args ...string) (string, error) {
		cmd := exec.Command("apt-get", append([]string{"-o", "DPkg::Lock::Timeout=300", "-y"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// Built for 1.26.3: Debian 12's nginx cannot satisfy it.
	out, err := apt("install", deb("1.26.3"))
	if err == nil || !strings.Contains(out, "nginx-module-hello-world : Depends: nginx (>= 1.26.3)") {
		t.Errorf("apt-get install of the 1.26.3 package: %v\n%s", err, out)
	}
	testenv.SameTree(t, "after apt refused the 1.26.3 package", before, hostState(t))

	// Built for Debian's 1.22.1: installs, enables, nginx -t passes.
	if out, err := apt("install", deb("1.22.1")); err != nil {
		t.Fatalf("apt-get install of the 1.22.1 package: %v\n%s", err, out)
	}
	link := "/etc/nginx/modules-enabled/50-mod-http-hello-world.conf"
	if target, err := os.Readlink(link); err != nil || target != "/usr/share/nginx/modules-available/mod-http-hello-world.conf" {
		t.Errorf("%s -> %q, %v", link, target, err)
	}
	if b, _ := os.ReadFile("/usr/share/nginx/modules-available/mod-http-hello-world.conf"); string(b) != "load_module /usr/lib/nginx/modules/ngx_http_hello_world_module.so;\n" {
		t.Errorf("snippet %q", b)
	}
	if out, err := exec.Command(nginx, "-t").CombinedOutput(); err != nil {
		t.Errorf("nginx -t with the module enabled: %v\n%s", err, out)
	}
	if st, _ := exec.Command("dpkg-query", "-W", "-f=${Status} ${Version} ${Depends}", "nginx-module-hello-world").Output(); string(st) != "install ok installed 0.1+nginx1.22.1-1 nginx-abi-1.22.1-7" {
		t.Errorf("dpkg-query: %s", st)
	}
	// Removed: the snippet's link goes, nginx -t still passes.
	if out, err := exec.Command("dpkg", "--purge", "nginx-module-hello-world").CombinedOutput(); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	if _, err := os.Lstat(link); err == nil {
		t.Errorf("%s left after removal", link)
	}
	if out, err := exec.Command(nginx, "-t").CombinedOutput(); err != nil {
		t.Errorf("nginx -t after removal: %v\n%s", err, out)
	}
	after := hostState(t)
	delete(before, "dpkg: nginx-module-hello-world")
	delete(after, "dpkg: nginx-module-hello-world")
	testenv.SameTree(t, "after install and purge", before, after)

	// The release carries the packages beside the .so files.
	if r := h.runIn(repo, "release", "--tag", "modules", "--create", "--dist", "dist"); r.code != 0 {
		t.Fatalf("release: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	rel := h.gh.Releases("acme/mod")[0]
	names := map[string]bool{}
	var m *manifest.Manifest
	var sums string
	for _, a := range rel.Assets {
		names[a.Name] = true
		switch a.Name {
		case "manifest.json":
			m, _ = manifest.Parse(a.Name, a.Data)
		case "SHA256SUMS":
			sums = string(a.Data)
		}
	}
	for _, v := range []string{"1.22.1", "1.26.3"} {
		name := "ngx_http_hello_world_module_" + v + "_debian-12_amd64.deb"
		if !names[name] || !strings.Contains(sums, name) || !strings.Contains(rel.Body, "[deb]("+"https://github.com/acme/mod/releases/download/modules/"+name+")") {
			t.Errorf("%s: asset %t, in SHA256SUMS %t, notes:\n%s", name, names[name], strings.Contains(sums, name), rel.Body)
		}
	}
	kinds := 0
	for _, e := range m.Entries {
		if e.Kind == "deb" && strings.HasPrefix(e.Package, "nginx-module-hello-world=0.1+nginx") {
			kinds++
		}
	}
	if kinds != 2 {
		t.Errorf("manifest lists %d deb packages, want 2: %+v", kinds, m.Entries)
	}
}

// TestPackagedNDKLoadsFirst: set-misc needs the NDK's symbols loaded
// first, and Debian's snippets load in file-name order. The NDK's
// package must enable 10-mod-ndk-http.conf (as Debian's own does), not
// 50-: after 50-mod-http-set-misc.conf, nginx -t failed ("undefined
// symbol: ndk_set_var_value", found with encrypted-session in issue 34's
// upstream corpus) and its postinst left set-misc disabled.
func TestPackagedNDKLoadsFirst(t *testing.T) {
	testenv.Tool(t, "dpkg-deb", "dpkg")
	dir := "debs/bookworm-amd64/libnginx-mod-http-"
	mirror := testenv.Mirror(t, dir+"ndk/usr/lib/nginx/modules/ndk_http_module.so")
	out := t.TempDir()
	cell := &manifest.Manifest{Schema: manifest.Schema, Cells: []manifest.Cell{{Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64"}}}
	for _, m := range []struct{ deb, module string }{{"set-misc", "ngx_http_set_misc_module"}, {"ndk", "ndk_http_module"}} {
		so := filepath.Join(mirror, dir+m.deb, "usr/lib/nginx/modules", m.module+".so")
		b, err := os.ReadFile(so)
		if err != nil {
			t.Fatal(err)
		}
		e := manifest.Entry{Module: m.module, Source: m.deb, Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64", File: m.module + ".so"}
		if m.deb == "set-misc" {
			e.Requires = []string{"ndk_http_module"}
		}
		os.WriteFile(filepath.Join(out, e.File), b, 0o644)
		cell.Entries = append(cell.Entries, e)
	}
	d, _ := distro.Lookup("debian-12")
	cfg := config.Default()
	var log strings.Builder
	if err := packageCell(&log, cfg, d, nil, out, cell, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	for module, want := range map[string]string{"ndk_http_module": "/etc/nginx/modules-enabled/10-mod-ndk-http.conf", "ngx_http_set_misc_module": "/etc/nginx/modules-enabled/50-mod-http-set-misc.conf"} {
		debs, _ := filepath.Glob(filepath.Join(out, module+"*.deb"))
		if len(debs) != 1 {
			t.Fatalf("%s: packages %v", module, debs)
		}
		ctl := t.TempDir()
		if b, err := exec.Command("dpkg-deb", "-e", debs[0], ctl).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -e %s: %v\n%s", debs[0], err, b)
		}
		post, _ := os.ReadFile(filepath.Join(ctl, "postinst"))
		if !strings.Contains(string(post), want) {
			t.Errorf("%s's postinst does not enable %s:\n%s", module, want, post)
		}
	}
}
