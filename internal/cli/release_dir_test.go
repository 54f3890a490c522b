package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestReleaseDirAndInstallFromIt is issue 23's publishing without GitHub:
// release --dir writes what the release would hold; install --from takes
// that directory, a URL of it (loopback) and plain build output, each
// passing nginx -t with Debian's nginx; a second identical publish
// changes no file, and a rebuilt cell changes only its file and the
// indexes.
func TestReleaseDirAndInstallFromIt(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	nginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (nginx -t as Debian's nginx user)", "run the tests as root")
	}
	repo, git := helloRepo(t, "nginx:\n  sha256:\n    1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31\n")
	h := newHarness(t)
	cache := t.TempDir()
	build := func() {
		t.Helper()
		if r := h.runIn(repo, "build", "--nginx", "1.22.1", "--mirror", mirror, "--smoke=false", "--distro", "debian-12",
			"--arch", "amd64", "--out", "dist", "--cache-dir", cache); r.code != 0 {
			t.Fatalf("build: exit %d %v\n%s", r.code, r.err, r.stderr)
		}
	}
	build()
	pub := filepath.Join(t.TempDir(), "pub")
	r := h.runIn(repo, "release", "--dir", pub, "--dist", "dist")
	if r.code != 0 {
		t.Fatalf("release --dir: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	asset := "ngx_http_hello_world_module_1.22.1_debian-12_amd64.so"
	for _, f := range []string{asset, "manifest.json", "SHA256SUMS", "NOTES.md"} {
		if _, err := os.Stat(filepath.Join(pub, f)); err != nil {
			t.Errorf("release --dir wrote no %s: %v", f, err)
		}
	}
	if sums := string(mustReadFile(t, filepath.Join(pub, "SHA256SUMS"))); !strings.Contains(sums, "  "+asset+"\n") {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}
	published := tree(t, pub)
	if r = h.runIn(repo, "release", "--dir", pub, "--dist", "dist"); r.code != 0 || !strings.Contains(r.stdout, "0 uploaded, 0 replaced, 1 unchanged\n") {
		t.Errorf("second publish: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	testenv.SameTree(t, "after a second identical publish", published, tree(t, pub))

	// Installed from the directory, a loopback URL of it and dist/.
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	defer srv.Close()
	var first *installHost
	for _, from := range [][]string{{"--from", pub}, {"--from", srv.URL, "--insecure"}, {"--from", filepath.Join(repo, "dist")}} {
		host := newInstallHost(t)
		if first == nil {
			first = host
		}
		args := append([]string{"install", "--nginx-binary", nginx, "--conf", host.conf, "--modules-path", host.modules}, from...)
		r := h.runIn(repo, append(args, "hello_world")...)
		if r.code != 0 || !strings.Contains(r.stdout, "installed "+asset) || !strings.Contains(r.stdout, "nginx -t: ok") {
			t.Errorf("install %v: exit %d %v\n%s%s", from, r.code, r.err, r.stdout, r.stderr)
			continue
		}
		if err := exec.Command(nginx, "-t", "-q", "-c", host.conf).Run(); err != nil {
			t.Errorf("install %v: nginx -t afterwards: %v", from, err)
		}
	}

	removeInstalled(t, h, repo, nginx, first)

	// A rebuilt cell: only its file and the indexes change.
	src := filepath.Join(repo, "ngx_http_hello_world_module.c")
	os.WriteFile(src, append(mustReadFile(t, src), []byte("\n/* rebuilt */\nstatic int rebuilt_marker __attribute__((used)) = 1;\n")...), 0o644)
	git("commit", "-qam", "change")
	build()
	if r = h.runIn(repo, "release", "--dir", pub, "--dist", "dist"); r.code != 0 || !strings.Contains(r.stdout, "0 uploaded, 1 replaced, 0 unchanged") {
		t.Fatalf("publish of a rebuilt cell: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	after := tree(t, pub)
	for p, v := range after {
		if published[p] != v && !strings.HasSuffix(p, "/"+asset) && !strings.HasSuffix(p, "/manifest.json") &&
			!strings.HasSuffix(p, "/SHA256SUMS") && !strings.HasSuffix(p, "/NOTES.md") && p != pub {
			t.Errorf("a rebuilt cell changed %s", p)
		}
	}
	if after[filepath.Join(pub, asset)] == published[filepath.Join(pub, asset)] {
		t.Error("the rebuilt file was not replaced")
	}
	if r := h.runIn(repo, "release", "--dir", pub, "--spread", "line"); r.code != 2 {
		t.Errorf("--dir with --spread: exit %d %v", r.code, r.err)
	}
}

// removeInstalled is install --remove (issue 23): refused while the
// configuration uses the module, with every file back; refused for a
// module install did not place; then the snippet, its link and the .so go
// and nginx -t passes.
func removeInstalled(t *testing.T, h *harness, repo, nginx string, host *installHost) {
	t.Helper()
	rm := func(args ...string) result {
		t.Helper()
		return h.runIn(repo, append([]string{"install", "remove", "--nginx-binary", nginx, "--conf", host.conf, "--modules-path", host.modules}, args...)...)
	}
	so := filepath.Join(host.modules, "ngx_http_hello_world_module.so")
	enabled := filepath.Join(host.root, "etc", "nginx", "modules-enabled", "50-mod-http-hello-world.conf")
	avail := filepath.Join(host.root, "etc", "nginx", "modules-available", "mod-http-hello-world.conf")
	server := filepath.Join(host.root, "etc", "nginx", "conf.d", "hello.conf")
	os.WriteFile(server, []byte(fmt.Sprintf("server { listen 127.0.0.1:%d; location = /hello { hello_world \"hi\"; } }\n", host.port)), 0o644)
	// A distro package's snippet (a relative path) is not install's.
	distro := filepath.Join(host.root, "etc", "nginx", "modules-enabled", "50-mod-http-echo.conf")
	os.WriteFile(distro, []byte("load_module modules/ngx_http_echo_module.so;\n"), 0o644)
	before := tree(t, host.root)
	if r := rm("echo"); r.code != 1 || !strings.Contains(r.err.Error(), "no module \"echo\" placed by nginx-modbuild install") ||
		!strings.Contains(r.err.Error(), "it placed: ngx_http_hello_world_module") {
		t.Errorf("--remove a module install did not place: exit %d %v", r.code, r.err)
	}
	testenv.SameTree(t, "after refusing a distro package's module", before, tree(t, host.root))
	// A load_module added by hand for the same .so: removing the file
	// would break it.
	hand := filepath.Join(host.root, "etc", "nginx", "modules-enabled", "99-by-hand.conf")
	os.WriteFile(hand, []byte("load_module "+so+";\n"), 0o644)
	before = tree(t, host.root)
	if r := rm("hello_world"); r.code != 1 || !strings.Contains(r.err.Error(), hand+":1 loads "+so+" too") {
		t.Errorf("--remove a module also loaded by hand: exit %d %v", r.code, r.err)
	}
	testenv.SameTree(t, "after refusing a module also loaded by hand", before, tree(t, host.root))
	os.Remove(hand)
	os.Remove(distro)
	before = tree(t, host.root)
	if r := rm("hello_world"); r.code != 1 || !strings.Contains(r.err.Error(), "nginx -t failed without the modules") ||
		!strings.Contains(r.err.Error(), `unknown directive "hello_world"`) {
		t.Errorf("--remove while the configuration uses it: exit %d %v", r.code, r.err)
	}
	if r := rm("--dry-run", "hello_world"); r.code != 0 || !strings.Contains(r.stdout, "would remove ngx_http_hello_world_module ("+so) {
		t.Errorf("--remove --dry-run: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	testenv.SameTree(t, "after refused removals and a dry run", before, tree(t, host.root))

	os.Remove(server)
	if r := rm("hello_world"); r.code != 0 || !strings.Contains(r.stdout, "removed ngx_http_hello_world_module") || !strings.Contains(r.stdout, "nginx -t: ok") {
		t.Fatalf("--remove: exit %d %v\n%s%s", r.code, r.err, r.stdout, r.stderr)
	}
	for _, p := range []string{so, enabled, avail} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("--remove left %s", p)
		}
	}
	if _, err := os.Stat(filepath.Join(host.modules, "README")); err != nil {
		t.Errorf("--remove took a file that is not the module's: %v", err)
	}
	if err := exec.Command(nginx, "-t", "-q", "-c", host.conf).Run(); err != nil {
		t.Errorf("nginx -t after --remove: %v", err)
	}
}
