package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestPackagedNginxIsBuiltAndLoads is issue 16's distro-packaged nginx:
// with nginx.packaged, debian-12 and ubuntu-24.04 plan the nginx version
// each ships (and only for itself); the debian-12 cell, built as planned,
// loads into Debian's own /usr/sbin/nginx.
func TestPackagedNginxIsBuiltAndLoads(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "git", "git")
	nginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	repo, _ := helloRepo(t, `nginx:
  latest: 0
  packaged: true
  sha256: {1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31}
modules: [{path: .}]
distros: [debian-12, ubuntu-24.04]
arch: [amd64]
`)
	h := newHarness(t)
	h.releaseRepo()
	r := h.runIn(repo, "plan")
	if r.code != 0 {
		t.Fatalf("plan: exit %d: %v\n%s", r.code, r.err, r.stderr)
	}
	var m struct {
		Include []struct{ Nginx, Distro, Arch string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("plan output %q: %v", r.stdout, err)
	}
	var cells []string
	for _, j := range m.Include {
		cells = append(cells, j.Nginx+" "+j.Distro)
	}
	if strings.Join(cells, ", ") != "1.24.0 ubuntu-24.04, 1.22.1 debian-12" {
		t.Fatalf("planned %q, want 1.24.0 on ubuntu-24.04 and 1.22.1 on debian-12 only", cells)
	}
	for _, want := range []string{"1.22.1   stable   packaged by debian-12 [debian-12 only]", "1.24.0   stable   packaged by ubuntu-24.04 [ubuntu-24.04 only]"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("plan does not say where a version comes from: no %q in\n%s", want, r.stderr)
		}
	}
	if r := h.runIn(repo, "versions"); r.code != 0 || !strings.Contains(r.stdout, "packaged by debian-12") {
		t.Errorf("versions: exit %d, does not show the source:\n%s%s", r.code, r.stdout, r.stderr)
	}

	cell := m.Include[1]
	if r := h.runIn(repo, "build", "--nginx", cell.Nginx, "--distro", cell.Distro, "--arch", cell.Arch, "--mirror", mirror,
		"--smoke=false", "--cache-dir", t.TempDir()); r.code != 0 {
		t.Fatalf("build: exit %d: %v\n%s", r.code, r.err, r.stderr)
	}
	so := filepath.Join(repo, "dist", "ngx_http_hello_world_module_1.22.1.so")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte("load_module "+so+";\nevents {}\nhttp { server { listen 127.0.0.1:1; location = /hello { hello_world \"Hello\"; } } }\n"), 0o644)
	out, err := exec.Command(nginx, "-t", "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"),
		"-g", "pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;").CombinedOutput()
	if err != nil {
		t.Fatalf("Debian's nginx -t with the packaged-version build: %v\n%s", err, out)
	}
}
