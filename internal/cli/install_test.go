package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/install"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// installHost is a Debian-style nginx host in a directory: the main
// nginx.conf including modules-enabled/*.conf, a modules directory, a
// conf.d for servers. Debian's real /usr/sbin/nginx runs it with -c.
type installHost struct {
	root, conf, modules string
	port                int
}

func newInstallHost(t *testing.T) *installHost {
	t.Helper()
	root := t.TempDir()
	h := &installHost{root: root, conf: filepath.Join(root, "etc", "nginx", "nginx.conf"), modules: filepath.Join(root, "usr", "lib", "nginx", "modules")}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, d := range []string{"etc/nginx/modules-enabled", "etc/nginx/conf.d", "usr/lib/nginx/modules", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(h.modules, "README"), []byte("not ours\n"), 0o644)
	os.WriteFile(h.conf, []byte(fmt.Sprintf(`include %[1]s/etc/nginx/modules-enabled/*.conf;
pid %[1]s/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/tmp;
    include %[1]s/etc/nginx/conf.d/*.conf;
    server { listen 127.0.0.1:%[2]d; location / { return 200 "base\n"; } }
}
`, root, h.port)), 0o644)
	return h
}

// tree is every file under root: mode, contents (or link target) and
// modification time, to compare the host before and after.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		v := fmt.Sprintf("%v %d", fi.Mode(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			v += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			s := sha256.Sum256(b)
			v += " " + hex.EncodeToString(s[:])
		}
		out[p] = v
		return nil
	})
	return out
}

// TestInstall is issue 13's acceptance: real .so files built here for
// nginx 1.22.1 (hello-world, NDK, set-misc) and 1.26.3 (hello-world),
// released on the fake GitHub with decoys for other distros and arches;
// install for Debian's /usr/sbin/nginx 1.22.1 picks the 1.22.1 debian-12
// build, nginx -t passes and a running nginx serves the module; a 1.26.3
// build, a corrupted file and set-misc without NDK are all refused or
// rolled back with the host's files exactly as they were.
func TestInstall(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	nginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	mirror := testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (nginx -t as Debian's nginx user)", "run the tests as root")
	}
	repo, _ := helloRepo(t, "")
	for name, tarball := range map[string]string{"ndk": "libnginx-mod-http-ndk_0.3.4.orig.tar.gz", "set-misc": "libnginx-mod-http-set-misc_0.33.orig.tar.gz"} {
		os.Rename(celltest.Module(t, mirror, tarball), filepath.Join(repo, name))
	}
	cfg := func(name, mods string) string {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, []byte(`nginx:
  sha256:
    1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31
    1.26.3: 69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa
modules: `+mods+"\n"), 0o644)
		return p
	}
	h := newHarness(t)
	h.releaseRepo()
	dist := filepath.Join(repo, "dist")
	for _, b := range []struct{ v, cfg string }{
		{"1.22.1", cfg("all.yml", "[{path: .}, {path: ndk}, {path: set-misc}]")},
		{"1.26.3", cfg("hello.yml", "[{path: .}]")},
	} {
		if r := h.runIn(repo, "build", "--config", b.cfg, "--nginx", b.v, "--mirror", mirror, "--smoke=false", "--distro", "debian-12",
			"--arch", "amd64", "--out", filepath.Join(dist, b.v), "--cache-dir", t.TempDir()); r.code != 0 {
			t.Fatalf("build %s: exit %d %v\n%s", b.v, r.code, r.err, r.stderr)
		}
	}
	// Decoys: the same module for other distros and arches.
	hello := filepath.Join(dist, "1.22.1", "ngx_http_hello_world_module_1.22.1.so")
	data, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	decoys := &manifest.Manifest{Schema: manifest.Schema}
	for _, c := range [][2]string{{"ubuntu-24.04", "amd64"}, {"debian-12", "arm64"}, {"alpine-3.22", "amd64"}} {
		name := "decoy_" + c[0] + "_" + c[1] + ".so"
		os.MkdirAll(filepath.Join(dist, "decoys"), 0o755)
		os.WriteFile(filepath.Join(dist, "decoys", name), data, 0o644)
		decoys.Entries = append(decoys.Entries, manifest.Entry{Module: "ngx_http_hello_world_module", Source: ".", Nginx: "1.22.1",
			Distro: c[0], Arch: c[1], File: name, SHA256: hex.EncodeToString(sum[:])})
	}
	os.WriteFile(filepath.Join(dist, "decoys", manifest.CellFileName("1.22.1", "decoys", "any")), decoys.Encode(), 0o644)
	if r := h.runIn(repo, "release", "--tag", "modules", "--create", "--dist", "dist"); r.code != 0 {
		t.Fatalf("release: exit %d %v\n%s", r.code, r.err, r.stderr)
	}

	host := newInstallHost(t)
	inst := func(args ...string) result {
		t.Helper()
		// Provenance is issue 24's TestInstallProvenance; these builds
		// carry no attestation.
		return h.runIn(repo, append([]string{"install", "--no-provenance", "--nginx-binary", nginx, "--conf", host.conf, "--modules-path", host.modules}, args...)...)
	}

	// Refused before anything changes: a module with no 1.22.1 build, a
	// 1.26.3 build labelled 1.22.1, a corrupted file.
	before := tree(t, host.root)
	if r := inst("--tag", "modules", "ngx_http_no_such_module"); r.code == 0 || !strings.Contains(r.err.Error(), "no module") {
		t.Errorf("unknown module: exit %d %v", r.code, r.err)
	}
	local := t.TempDir()
	newer, _ := os.ReadFile(filepath.Join(dist, "1.26.3", "ngx_http_hello_world_module_1.26.3.so"))
	writeRelease(t, local, "ngx_http_hello_world_module", "1.22.1", newer, nil)
	if r := inst("--from", local, "hello_world"); r.code != 1 ||
		!strings.Contains(r.err.Error(), "version 1026003 instead of 1022001") || !strings.Contains(r.err.Error(), "nothing was changed") {
		t.Errorf("1.26.3 build: exit %d %v", r.code, r.err)
	}
	corrupt := t.TempDir()
	writeRelease(t, corrupt, "ngx_http_hello_world_module", "1.22.1", data, append([]byte{}, append(data[:len(data)-1:len(data)-1], data[len(data)-1]^1)...))
	if r := inst("--from", corrupt, "hello_world"); r.code != 1 || !strings.Contains(r.err.Error(), "SHA-256") {
		t.Errorf("corrupted file: exit %d %v", r.code, r.err)
	}
	// set-misc without NDK: placed, nginx -t fails, every file put back.
	if r := inst("--tag", "modules", "set_misc"); r.code != 1 || !strings.Contains(r.err.Error(), "nginx -t failed") ||
		!strings.Contains(r.err.Error(), "undefined symbol: ndk_") || !strings.Contains(r.err.Error(), "needs ndk_http_module") {
		t.Errorf("set-misc without NDK: exit %d %v", r.code, r.err)
	}
	testenv.SameTree(t, "after the refusals and the rollback", before, tree(t, host.root))

	// Killed while nginx -t runs (a stalled include): a hangup rolls
	// back; after SIGKILL, install --recover does. Either way the host is
	// as it was, byte for byte, and nginx -t passes.
	good := t.TempDir()
	writeRelease(t, good, "ngx_http_hello_world_module", "1.22.1", data, nil)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGKILL} {
		killDuringDownload(t, host, nginx, good, sig)
		killDuringNginxTest(t, host, nginx, good, sig)
	}

	// The real install picks 1.22.1 debian-12 amd64 among the decoys.
	r := inst("--tag", "modules", "hello_world", "ndk_http", "set_misc")
	if r.code != 0 {
		t.Fatalf("install: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	for _, want := range []string{"installed ngx_http_hello_world_module_1.22.1_debian-12_amd64.so -> " + filepath.Join(host.modules, "ngx_http_hello_world_module.so"), "nginx -t: ok"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("install output lacks %q:\n%s", want, r.stdout)
		}
	}
	enabled, _ := os.ReadDir(filepath.Join(host.root, "etc", "nginx", "modules-enabled"))
	var names []string
	for _, e := range enabled {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "10-mod-ndk-http.conf 50-mod-http-hello-world.conf 50-mod-http-set-misc.conf" {
		t.Errorf("modules-enabled: %v", names)
	}
	// The upgrade preflight: which loaded modules have a 1.26.3 build.
	installed := tree(t, host.root)
	// (--check, the old spelling of install check, still works: with a
	// deprecation line.)
	r = inst("--tag", "modules", "--check", "--for-nginx", "1.26.3")
	if !strings.Contains(r.stderr, "install --check is deprecated and goes in a later release: use install check") {
		t.Errorf("install --check: no deprecation line:\n%s", r.stderr)
	}
	if r.code != 1 || !strings.Contains(r.stdout, "ngx_http_hello_world_module_1.26.3_debian-12_amd64.so") ||
		!strings.Contains(r.stdout, "NONE: ngx_http_set_misc_module: no build for nginx 1.26.3") ||
		!strings.Contains(r.err.Error(), "2 of 3 modules have no build for nginx 1.26.3") {
		t.Errorf("install --check: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	// A dry run changes nothing; staging for 1.26.3 adds one version-named
	// file and touches no configuration.
	if r = inst("--tag", "modules", "--dry-run", "hello_world"); r.code != 0 || !strings.Contains(r.stdout, "would install") {
		t.Errorf("dry run: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	testenv.SameTree(t, "after --check and --dry-run", installed, tree(t, host.root))
	if r = inst("--tag", "modules", "--for-nginx", "1.26.3", "hello_world"); r.code != 0 || !strings.Contains(r.stdout, "staged for nginx 1.26.3") {
		t.Errorf("stage: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	staged := tree(t, host.root)
	for p := range staged {
		if _, ok := installed[p]; !ok && p != filepath.Join(host.modules, "ngx_http_hello_world_module_1.26.3.so") {
			t.Errorf("staging wrote %s", p)
		}
	}
	if err := exec.Command(nginx, "-t", "-q", "-c", host.conf).Run(); err != nil {
		t.Errorf("nginx -t after staging: %v", err)
	}
	// The official image's layout (no modules include): --print-load
	// places the files and prints the lines examples/docker/Dockerfile
	// puts at the top of nginx.conf, with the same shell.
	plain := newInstallHost(t)
	os.WriteFile(plain.conf, []byte(strings.Replace(string(mustReadFile(t, plain.conf)), "include "+plain.root+"/etc/nginx/modules-enabled/*.conf;\n", "", 1)), 0o644)
	r = h.runIn(repo, "install", "--no-provenance", "--nginx-binary", nginx, "--conf", plain.conf, "--modules-path", plain.modules, "--tag", "modules", "hello_world")
	if r.code != 1 || !strings.Contains(r.err.Error(), "pass --print-load") {
		t.Errorf("no modules include: exit %d %v", r.code, r.err)
	}
	r = h.runIn(repo, "install", "--no-provenance", "--nginx-binary", nginx, "--conf", plain.conf, "--modules-path", plain.modules, "--tag", "modules", "--print-load", "set_misc", "ndk_http")
	if r.code != 0 {
		t.Fatalf("--print-load: exit %d %v", r.code, r.err)
	}
	load := filepath.Join(t.TempDir(), "load.txt")
	os.WriteFile(load, []byte(r.stdout), 0o644)
	sh := fmt.Sprintf(`{ grep '^  load_module ' %[1]s | sed 's/^  //'; cat %[2]s; } > %[2]s.new && mv %[2]s.new %[2]s && %[3]s -t -q -c %[2]s`, load, plain.conf, nginx)
	if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
		t.Errorf("the Dockerfile's load_module step: %v\n%s\n%s", err, out, r.stdout)
	}
	os.WriteFile(filepath.Join(host.root, "etc", "nginx", "conf.d", "hello.conf"), []byte(fmt.Sprintf(
		"server { listen 127.0.0.1:%d; server_name hello; location = /hello { hello_world \"Hello from 1.22.1\"; } location = /s { set_unescape_uri $x \"a%%20b\"; return 200 $x; } }\n", host.port+0)), 0o644)
	os.WriteFile(host.conf, []byte(strings.Replace(string(mustReadFile(t, host.conf)), `server { listen 127.0.0.1:`, `# server { listen 127.0.0.1:`, 1)), 0o644)
	// nginx daemonizes with our stderr (error_log stderr): a file, not a
	// pipe a wait would hang on.
	logf, err := os.Create(filepath.Join(t.TempDir(), "nginx.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	start := exec.Command(nginx, "-c", host.conf)
	start.Stdout, start.Stderr = logf, logf
	if err := start.Run(); err != nil {
		t.Fatalf("start nginx: %v\n%s", err, mustReadFile(t, logf.Name()))
	}
	defer exec.Command(nginx, "-c", host.conf, "-s", "quit").Run()
	body := get(t, fmt.Sprintf("http://127.0.0.1:%d/hello", host.port))
	if !strings.Contains(body, "Hello from 1.22.1") {
		t.Errorf("GET /hello = %q", body)
	}
	if body := get(t, fmt.Sprintf("http://127.0.0.1:%d/s", host.port)); body != "a b" {
		t.Errorf("GET /s (set-misc) = %q", body)
	}
	// Installing again changes no bytes; --reload reloads the running nginx
	// (no systemd here: nginx -s reload).
	if r = inst("--tag", "modules", "--reload", "hello_world"); r.code != 0 || !strings.Contains(r.stdout, "reloaded (") {
		t.Errorf("--reload: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	if body := get(t, fmt.Sprintf("http://127.0.0.1:%d/hello", host.port)); !strings.Contains(body, "Hello from 1.22.1") {
		t.Errorf("after the reload GET /hello = %q", body)
	}
}

// writeRelease makes a directory release of one module file: the
// manifest's checksum is of data; the file holds onDisk (data when nil).
// killDuringNginxTest runs install of hello_world from dir as its own
// process, stalls its nginx -t on a FIFO include, sends sig, and then
// (for SIGKILL, after stopping the stalled nginx -t by its PID) runs
// install --recover; the host must then be as before, and nginx -t pass.
func killDuringNginxTest(t *testing.T, host *installHost, nginx, dir string, sig syscall.Signal) {
	t.Helper()
	fifo := filepath.Join(host.root, "etc", "nginx", "conf.d", "stall.conf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	before := tree(t, host.root)
	bin := testenv.ToolBinary(t)
	args := []string{"install", "--nginx-binary", nginx, "--conf", host.conf, "--modules-path", host.modules, "--from", dir, "hello_world"}
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// nginx -t, a child of the install, opens the FIFO and waits.
	test := 0
	deadline := time.Now().Add(30 * time.Second)
	for test == 0 && time.Now().Before(deadline) {
		test = childRunning(cmd.Process.Pid, host.conf)
		time.Sleep(20 * time.Millisecond)
	}
	if test == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		os.Remove(fifo)
		t.Fatalf("%v: nginx -t never started:\n%s", sig, out.String())
	}
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	if sig == syscall.SIGKILL {
		syscall.Kill(test, syscall.SIGKILL) // its nginx -t outlives it
		if _, jerr := os.Stat(filepath.Join(filepath.Dir(host.conf), install.JournalName)); jerr != nil {
			t.Errorf("SIGKILL: no journal left to recover from: %v", jerr)
		}
		rec := exec.Command(bin, "install", "recover", "--nginx-binary", nginx, "--conf", host.conf, "--modules-path", host.modules)
		if b, rerr := rec.CombinedOutput(); rerr != nil || !strings.Contains(string(b), "put back") {
			t.Errorf("install --recover: %v\n%s", rerr, b)
		}
	} else if err == nil || !strings.Contains(out.String(), "put back") {
		t.Errorf("%v: install %v, want a failure that put every file back:\n%s", sig, err, out.String())
	}
	testenv.SameTree(t, "after "+sig.String()+" during nginx -t", before, tree(t, host.root))
	os.Remove(fifo)
	if b, err := exec.Command(nginx, "-t", "-q", "-c", host.conf).CombinedOutput(); err != nil {
		t.Errorf("nginx -t after %v: %v\n%s", sig, err, b)
	}
}

// killDuringDownload kills an install before it places anything: while
// it downloads the .so (a server that never answers). Nothing may have
// changed, and install --recover finds nothing to do.
func killDuringDownload(t *testing.T, host *installHost, nginx, dir string, sig syscall.Signal) {
	t.Helper()
	asked := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".so") {
			select {
			case asked <- struct{}{}:
			default:
			}
			<-r.Context().Done() // until the install is gone
			return
		}
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.URL.Path)))
	}))
	defer srv.Close()
	before := tree(t, host.root)
	bin := testenv.ToolBinary(t)
	cmd := exec.Command(bin, "install", "--nginx-binary", nginx, "--conf", host.conf, "--modules-path", host.modules,
		"--from", srv.URL+"/", "--insecure", "hello_world")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%v: the install never asked for the .so:\n%s", sig, out.String())
	}
	cmd.Process.Signal(sig)
	if err := cmd.Wait(); err == nil {
		t.Errorf("%v during the download: the install succeeded", sig)
	}
	rec := exec.Command(bin, "install", "recover", "--nginx-binary", nginx, "--conf", host.conf, "--modules-path", host.modules)
	if b, err := rec.CombinedOutput(); err != nil || !strings.Contains(string(b), "no interrupted install") {
		t.Errorf("install --recover after %v before placing: %v\n%s", sig, err, b)
	}
	testenv.SameTree(t, "after "+sig.String()+" during the download", before, tree(t, host.root))
}

// childRunning is the PID of a child of pid whose command line names
// conf (the install's nginx -t), or 0.
func childRunning(pid int, conf string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[1] != fmt.Sprint(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), conf) {
			var child int
			fmt.Sscan(e.Name(), &child)
			return child
		}
	}
	return 0
}

func writeRelease(t *testing.T, dir, module, nginx string, data, onDisk []byte) {
	t.Helper()
	name := manifest.AssetName(module, nginx, "debian-12", "amd64")
	sum := sha256.Sum256(data)
	m := &manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{{Module: module, Source: ".", Nginx: nginx,
		Distro: "debian-12", Arch: "amd64", File: name, SHA256: hex.EncodeToString(sum[:])}}}
	if onDisk == nil {
		onDisk = data
	}
	os.WriteFile(filepath.Join(dir, name), onDisk, 0o644)
	os.WriteFile(filepath.Join(dir, "manifest.json"), m.Encode(), 0o644)
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t *testing.T, url string) string {
	t.Helper()
	var last error
	for i := 0; i < 50; i++ {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// TestInstallVerbs: install's modes are verbs, first; each refuses what
// it does not take, as the flags did, and a verb after the flags is a
// usage error that says where it goes.
func TestInstallVerbs(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"install", "remove"}, "install remove: name the modules to take out"},
		{[]string{"install", "remove", "--for-nginx", "1.26.3", "echo"}, "install remove takes modules only"},
		{[]string{"install", "check", "echo"}, "install check takes no modules"},
		{[]string{"install", "check"}, "install check needs --for-nginx VERSION"},
		{[]string{"install", "recover", "echo"}, "install recover takes no modules"},
		{[]string{"install", "--dry-run", "remove", "echo"}, "the verb remove goes first, before the flags: install remove [flags] ..."},
		{[]string{"install", "--from", "dist", "echo", "--install-deps"}, "install: --install-deps comes after the module names, where it is read as one: put the flags first"},
	} {
		r := h.run(c.args...)
		if r.code != 2 || r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want %q", c.args, r.code, r.err, c.want)
		}
		if strings.Contains(r.stderr, "deprecated") {
			t.Errorf("%v: a deprecation line for a verb:\n%s", c.args, r.stderr)
		}
	}
	if r := h.run("install", "--remove"); r.code != 2 || !strings.Contains(r.stderr, "install --remove is deprecated") {
		t.Errorf("install --remove: exit %d, no deprecation line:\n%s", r.code, r.stderr)
	}
}
