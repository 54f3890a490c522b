package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/examples"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// headersMoreRepo is a git repository made of Debian's headers-more
// sources (a real module repository's layout: config at the root, sources
// under src/, tests under t/).
func headersMoreRepo(t *testing.T) string {
	t.Helper()
	testenv.Tool(t, "git", "git")
	tarball := "libnginx-mod-http-headers-more-filter_0.34.orig.tar.gz"
	mirror := testenv.Mirror(t, tarball)
	repo := celltest.Module(t, mirror, tarball)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "headers-more"},
		{"tag", "v0.34"}, {"remote", "add", "origin", "git@github.com:openresty/headers-more-nginx-module.git"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return repo
}

// TestInit is issue 16's init on a copy of a real module repository: it
// finds the module, reads the pin from a Dockerfile, writes the config and
// the two example workflows, never overwrites without --force, says how to
// allow the bump pull requests, and plan accepts what it wrote unchanged.
func TestInit(t *testing.T) {
	repo := headersMoreRepo(t)
	os.WriteFile(filepath.Join(repo, "Dockerfile"), []byte("FROM nginx:1.26.3-alpine\nCOPY . /src\n"), 0o644)
	h := newHarness(t)

	r := h.runIn(repo, "init")
	if r.code != 0 {
		t.Fatalf("init: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	for _, want := range []string{"wrote .github/nginx-modbuild.yml", "wrote .github/workflows/nginx-modbuild.yml",
		"wrote .github/workflows/nginx-modbuild-pr.yml", "pin 1.26.3 (from Dockerfile:1)",
		`"Allow GitHub Actions to create and approve pull requests"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init output lacks %q:\n%s", want, r.stdout)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(repo, ".github", "nginx-modbuild.yml"))
	// headers-more's own Test::Nginx suite (t/*.t) is declared, so the
	// pull-request workflow's test: true runs it (issue 33 item 3).
	// Packages off, their metadata read from the repository (issue 33
	// item 6): the tag, README.markdown's copyright holder, the remote.
	for _, want := range []string{"packages:\n  enabled: false\n", `  version: "0.34"   # the newest tag, v0.34`,
		`  maintainer: "Yichun \"agentzh\" Zhang (章亦春) <agentzh@gmail.com>"   # README.markdown's copyright holder`,
		`  homepage: "https://github.com/openresty/headers-more-nginx-module"   # the origin remote`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	for _, want := range []string{"  - path: .\n    test: {prove: t/}", "pin: 1.26.3", "packaged: true", "lines: [stable, mainline]", "  # sha256:", "  #   1.26.3: <sha256 of nginx-1.26.3.tar.gz>"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	for _, wf := range initWorkflows {
		got, _ := os.ReadFile(filepath.Join(repo, filepath.FromSlash(wf.path)))
		want, _ := examples.Workflows.ReadFile(wf.example)
		if len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("%s is not examples/%s", wf.path, wf.example)
		}
	}

	// Never overwrite without --force, and write nothing at all then.
	os.WriteFile(filepath.Join(repo, ".github", "nginx-modbuild.yml"), []byte("# mine\n"), 0o644)
	os.Remove(filepath.Join(repo, ".github", "workflows", "nginx-modbuild-pr.yml"))
	r = h.runIn(repo, "init")
	if r.code != 2 || !strings.Contains(r.err.Error(), ".github/nginx-modbuild.yml, .github/workflows/nginx-modbuild.yml already exists") {
		t.Errorf("init over existing files: exit %d %v", r.code, r.err)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, ".github", "nginx-modbuild.yml")); string(b) != "# mine\n" {
		t.Errorf("the config was overwritten: %q", b)
	}
	if _, err := os.Stat(filepath.Join(repo, ".github", "workflows", "nginx-modbuild-pr.yml")); err == nil {
		t.Error("a refused init wrote the pull-request workflow")
	}
	if r = h.runIn(repo, "init", "--force"); r.code != 0 {
		t.Fatalf("init --force: exit %d %v", r.code, r.err)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, ".github", "nginx-modbuild.yml")); !bytes.Equal(b, cfg) {
		t.Errorf("init --force wrote another config:\n%s", b)
	}

	// plan takes the files as written.
	r = h.runIn(repo, "plan")
	if r.code != 0 {
		t.Fatalf("plan on init's config: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	var m struct {
		Include []struct{ Nginx, Distro string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	cells := map[string]bool{}
	for _, j := range m.Include {
		cells[j.Nginx+" "+j.Distro] = true
	}
	for _, want := range []string{"1.26.3 debian-12", "1.30.4 rocky-9", "1.31.4 ubuntu-22.04", "1.22.1 debian-12", "1.24.0 ubuntu-24.04", "1.20.1 rocky-9"} {
		if !cells[want] {
			t.Errorf("plan lacks the cell %s: %v", want, cells)
		}
	}
	if cells["1.22.1 ubuntu-24.04"] {
		t.Error("debian-12's packaged nginx planned for ubuntu-24.04")
	}
}

func TestInitErrors(t *testing.T) {
	h := newHarness(t)
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "config"), []byte("# not a module\n"), 0o644)
	if r := h.runIn(empty, "init"); r.code != 2 || !strings.Contains(r.err.Error(), "no nginx module config") {
		t.Errorf("no module: exit %d %v", r.code, r.err)
	}
	mod := t.TempDir()
	os.MkdirAll(filepath.Join(mod, "sub", "inner"), 0o755)
	os.WriteFile(filepath.Join(mod, "sub", "config"), []byte("ngx_addon_name=a\n"), 0o644)
	os.WriteFile(filepath.Join(mod, "sub", "inner", "config"), []byte("ngx_addon_name=b\n"), 0o644)
	if r := h.runIn(mod, "init", "--pin", "1.26.99"); r.code != 2 || !strings.Contains(r.err.Error(), "pin 1.26.99 (given with --pin) is not an nginx release") {
		t.Errorf("bad pin: exit %d %v", r.code, r.err)
	}
	if r := h.runIn(mod, "init", "--distros", "debian-99"); r.code != 2 || !strings.Contains(r.err.Error(), `unknown distro "debian-99"`) {
		t.Errorf("bad distro: exit %d %v", r.code, r.err)
	}
	r := h.runIn(mod, "init")
	b, _ := os.ReadFile(filepath.Join(mod, ".github", "nginx-modbuild.yml"))
	if r.code != 0 || !strings.Contains(string(b), "  - path: sub\n") || strings.Contains(string(b), "inner") ||
		!strings.Contains(string(b), "pin: 1.30.4        # the newest stable release") {
		t.Errorf("nested configs: exit %d %v\n%s", r.code, r.err, b)
	}
}

// TestInitOfflinePins is issue 33 item 7: init --mirror DIR writes the
// SHA-256 of DIR's tarballs as nginx.sha256 (the first offline build
// failed until they were pasted by hand) and says to give plan and
// build the same --mirror.
func TestInitOfflinePins(t *testing.T) {
	repo := headersMoreRepo(t)
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	h := newHarness(t)
	r := h.runIn(repo, "init", "--mirror", mirror, "--pin", "1.22.1")
	if r.code != 0 || !strings.Contains(r.stdout, "Offline: give plan and build --mirror "+mirror) {
		t.Fatalf("init --mirror: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	// A local mirror is the releases' source: no GitHub request first
	// (each command spent 3 s on its retries offline). The real binary,
	// as the harness always names its fake GitHub with --upstream-url.
	cmd := exec.Command(testenv.ToolBinary(t), "versions", "--mirror", mirror)
	cmd.Dir, cmd.Env = repo, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "from mirror "+mirror+" (0 requests") || strings.Contains(string(out), "falling back") {
		t.Errorf("versions --mirror DIR: %v\n%s", err, out)
	}
	cfg, _ := os.ReadFile(filepath.Join(repo, ".github", "nginx-modbuild.yml"))
	for _, want := range []string{"  sha256:", "    1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31\n",
		"    1.26.3: 69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa\n"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
}
