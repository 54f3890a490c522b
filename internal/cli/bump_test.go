package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// TestBumpCommand: a dry run prints the diff, a real run opens the pull
// request on the GitHub fake to the newest stable release in nginx/nginx's
// real tag list, a fork's pull_request run is refused, and a config
// without a pin is a config error.
func TestBumpCommand(t *testing.T) {
	h := newHarness(t)
	h.env["GITHUB_API_URL"] = h.gh.URL
	h.env["GITHUB_REPOSITORY"] = "acme/mod"
	h.env["PATH"] = ""
	files := map[string]string{
		".github/nginx-modbuild.yml": "nginx:\n  pin: 1.26.3\nbump:\n  labels: [dependencies]\n",
		"Dockerfile":                 "FROM nginx:1.26.3\n",
		"config":                     "ngx_addon_name=ngx_http_x_module\n",
	}
	repo := t.TempDir()
	for p, c := range files {
		os.MkdirAll(filepath.Join(repo, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(repo, p), []byte(c), 0o644)
	}
	h.gh.CreateRepo("acme/mod", "main")
	h.gh.CommitFiles("acme/mod", "main", "initial", files)

	r := h.runIn(repo, "bump", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "-FROM nginx:1.26.3\n+FROM nginx:1.30.4\n") || !strings.Contains(r.stdout, "Bump nginx from 1.26.3 to 1.30.4") {
		t.Fatalf("dry run: exit %d %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	if len(h.gh.Pulls("acme/mod")) != 0 {
		t.Fatal("the dry run opened a pull request")
	}
	out := filepath.Join(t.TempDir(), "github_output")
	os.WriteFile(out, nil, 0o644)
	h.env["GITHUB_OUTPUT"] = out
	r = h.runIn(repo, "bump")
	if r.code != 0 || !strings.Contains(r.stdout, "opened pull request #1: Bump nginx from 1.26.3 to 1.30.4") {
		t.Fatalf("bump: exit %d %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "pull-request<<") || !strings.Contains(string(b), "https://github.com/acme/mod/pull/1") {
		t.Errorf("GITHUB_OUTPUT:\n%s", b)
	}
	if got, _ := h.gh.File("acme/mod", "nginx-modbuild/nginx-stable", ".github/nginx-modbuild.yml"); got != "nginx:\n  pin: 1.30.4\nbump:\n  labels: [dependencies]\n" {
		t.Errorf("config on the branch: %q", got)
	}
	if r = h.runIn(repo, "bump"); r.code != 0 || !strings.Contains(r.stdout, "unchanged pull request #1") {
		t.Errorf("second run: exit %d\n%s", r.code, r.stdout)
	}

	event := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(event, []byte(`{"pull_request": {"head": {"repo": {"full_name": "mallory/mod", "fork": true}}}, "repository": {"full_name": "acme/mod"}}`), 0o644)
	h.env["GITHUB_EVENT_NAME"], h.env["GITHUB_EVENT_PATH"] = "pull_request", event
	if r = h.runIn(repo, "bump"); r.code != 2 || !strings.Contains(r.err.Error(), "refusing to run for a pull request from the fork mallory/mod") {
		t.Errorf("fork: exit %d: %v", r.code, r.err)
	}
	h.env["GITHUB_EVENT_NAME"] = ""

	os.WriteFile(filepath.Join(repo, ".github/nginx-modbuild.yml"), []byte("nginx:\n  lines: [stable]\n"), 0o644)
	if r = h.runIn(repo, "bump"); r.code != 0 || !strings.Contains(r.stderr, "nothing to bump: ") || !strings.Contains(r.stderr, "add nginx: {pin: 1.26.3}") {
		t.Errorf("no pin: exit %d: %v\n%s", r.code, r.err, r.stderr)
	}
}

// TestBumpLocal is issue 16's bump --dry-run --local: the working tree's
// pins previewed and then edited with no repository and no token; files
// git ignores (build output) are left alone.
func TestBumpLocal(t *testing.T) {
	h := newHarness(t)
	repo, git := helloRepo(t, "nginx:\n  pin: 1.26.3\nmodules: [{path: .}]\n")
	os.WriteFile(filepath.Join(repo, "Dockerfile"), []byte("FROM nginx:1.26.3\n"), 0o644) // untracked, not ignored
	os.MkdirAll(filepath.Join(repo, "dist"), 0o755)
	os.WriteFile(filepath.Join(repo, "dist", "Dockerfile"), []byte("FROM nginx:1.26.3\n"), 0o644) // ignored
	before := git("status", "--porcelain")

	r := h.runIn(repo, "bump", "--local", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "-FROM nginx:1.26.3\n+FROM nginx:1.30.4\n") ||
		!strings.Contains(r.stdout, "+  pin: 1.30.4") || strings.Contains(r.stdout, "dist/") ||
		!strings.Contains(r.stdout, "Would edit 2 files") {
		t.Fatalf("bump --local --dry-run: exit %d %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	if after := git("status", "--porcelain"); after != before {
		t.Fatalf("the dry run changed the working tree:\n%s", after)
	}
	if n := len(h.gh.Pulls("acme/mod")); n != 0 {
		t.Fatalf("%d pull requests", n)
	}

	r = h.runIn(repo, "bump", "--local")
	if r.code != 0 || !strings.Contains(r.stdout, "2 files edited") {
		t.Fatalf("bump --local: exit %d %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	for p, want := range map[string]string{"Dockerfile": "FROM nginx:1.30.4\n", "dist/Dockerfile": "FROM nginx:1.26.3\n"} {
		if b, _ := os.ReadFile(filepath.Join(repo, p)); string(b) != want {
			t.Errorf("%s = %q, want %q", p, b, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(repo, ".github", "nginx-modbuild.yml")); !strings.Contains(string(b), "pin: 1.30.4") {
		t.Errorf("config not bumped:\n%s", b)
	}
	if r = h.runIn(repo, "bump", "--local", "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "nothing to bump") {
		t.Errorf("after the edit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestBumpKnowsFailures is issue 12's bump: the pull request body lists
// the cells of the target version that failed or are missing, and with
// bump.wait the pull request waits until every cell built.
func TestBumpKnowsFailures(t *testing.T) {
	h := newHarness(t)
	h.releaseRepo()
	cfg := "nginx:\n  pin: 1.26.3\nmodules: [{path: .}]\ndistros: [debian-12, alpine-3.22]\n"
	files := map[string]string{".github/nginx-modbuild.yml": cfg, "Dockerfile": "FROM nginx:1.26.3\n", "config": "ngx_addon_name=ngx_http_up_module\n"}
	repo := t.TempDir()
	for p, c := range files {
		os.MkdirAll(filepath.Join(repo, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(repo, p), []byte(c), 0o644)
	}
	h.gh.CommitFiles("acme/mod", "main", "initial", files)
	// The release: 1.30.4 built on debian-12, failed on alpine-3.22.
	dist := filepath.Join(t.TempDir(), "dist")
	os.MkdirAll(dist, 0o755)
	so := []byte("\x7fELF up")
	sum := sha256.Sum256(so)
	os.WriteFile(filepath.Join(dist, "ngx_http_up_module_1.30.4.so"), so, 0o644)
	ok := manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{{Module: "ngx_http_up_module", Source: ".", Nginx: "1.30.4",
		Distro: "debian-12", Arch: "amd64", File: "ngx_http_up_module_1.30.4.so", SHA256: hex.EncodeToString(sum[:])}},
		Cells: []manifest.Cell{{Nginx: "1.30.4", Distro: "debian-12", Arch: "amd64"}}}
	os.WriteFile(filepath.Join(dist, manifest.CellFileName("1.30.4", "debian-12", "amd64")), ok.Encode(), 0o644)
	bad := manifest.Manifest{Schema: manifest.Schema, Cells: []manifest.Cell{{Nginx: "1.30.4", Distro: "alpine-3.22", Arch: "amd64",
		Failures: []manifest.Failure{{Module: "ngx_http_up_module", Source: ".", Phase: "compile", Error: "up.c:3: error: musl has no foo"}}}}}
	os.WriteFile(filepath.Join(dist, manifest.CellFileName("1.30.4", "alpine-3.22", "amd64")), bad.Encode(), 0o644)
	if r := h.runIn(repo, "release", "--tag", "modules", "--create", "--dist", dist); r.code != 0 {
		t.Fatalf("release: exit %d %v\n%s", r.code, r.err, r.stderr)
	}

	r := h.runIn(repo, "bump", "--release-tag", "modules")
	if r.code != 0 || !strings.Contains(r.stdout, "opened pull request #1") {
		t.Fatalf("bump: exit %d %v\n%s\n%s", r.code, r.err, r.stdout, r.stderr)
	}
	body := h.gh.Pulls("acme/mod")[0].Body
	for _, want := range []string{"✗ compile: up.c:3: error: musl has no foo", "**Not built for nginx 1.30.4**: . on alpine-3.22/amd64"} {
		if !strings.Contains(body, want) {
			t.Errorf("pull request body lacks %q:\n%s", want, body)
		}
	}

	// bump.wait: no pull request until every cell built.
	h2 := newHarness(t)
	h2.releaseRepo()
	waitCfg := cfg + "bump: {wait: true}\n"
	files[".github/nginx-modbuild.yml"] = waitCfg
	os.WriteFile(filepath.Join(repo, ".github/nginx-modbuild.yml"), []byte(waitCfg), 0o644)
	h2.gh.CommitFiles("acme/mod", "main", "initial", files)
	if r := h2.runIn(repo, "release", "--tag", "modules", "--create", "--dist", dist); r.code != 0 {
		t.Fatalf("release: exit %d %v", r.code, r.err)
	}
	r = h2.runIn(repo, "bump", "--release-tag", "modules")
	if r.code != 0 || !strings.Contains(r.stderr, "waiting to bump nginx 1.26.3 to 1.30.4 (bump.wait): not built yet for . on alpine-3.22/amd64") {
		t.Errorf("bump with wait: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	if n := len(h2.gh.Pulls("acme/mod")); n != 0 {
		t.Errorf("%d pull requests opened while waiting", n)
	}
}
