package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/release"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestChangedModuleIsRebuilt is issue 16's acceptance: hello-world built
// and released on the fake GitHub; plan --new then plans nothing; one
// changed and committed line makes it plan the module's cell again, and
// after the rebuild the release's assets, manifest and checksums carry the
// new commit. The rolling release is not made the repository's latest.
func TestChangedModuleIsRebuilt(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "git", "git")
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	repo, git := helloRepo(t, `nginx:
  latest: 0
  versions: [1.22.1]
  sha256: {1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31}
modules: [{path: .}]
distros: [debian-12]
arch: [amd64]
`)

	h := newHarness(t)
	h.releaseRepo()
	cycle := func() {
		t.Helper()
		os.RemoveAll(filepath.Join(repo, "dist"))
		if r := h.runIn(repo, "build", "--nginx", "1.22.1", "--mirror", mirror, "--smoke=false", "--distro", "debian-12", "--arch", "amd64",
			"--cache-dir", filepath.Join(t.TempDir())); r.code != 0 {
			t.Fatalf("build: exit %d: %v\n%s", r.code, r.err, r.stderr)
		}
		if r := h.runIn(repo, "release", "--tag", "modules", "--create", "--dist", "dist"); r.code != 0 {
			t.Fatalf("release: exit %d: %v\n%s", r.code, r.err, r.stderr)
		}
	}
	planned := func() int {
		t.Helper()
		r := h.runIn(repo, "plan", "--new", "--tag", "modules")
		if r.code != 0 {
			t.Fatalf("plan: exit %d: %v\n%s", r.code, r.err, r.stderr)
		}
		var m struct{ Include []json.RawMessage }
		if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
			t.Fatalf("plan output %q: %v", r.stdout, err)
		}
		return len(m.Include)
	}
	cycle()
	first := git("rev-parse", "HEAD")
	if n := planned(); n != 0 {
		t.Errorf("unchanged module: %d cells planned, want 0", n)
	}
	// A README edit is not a change of the module.
	os.WriteFile(filepath.Join(repo, "README.md"), []byte("# docs\n"), 0o644)
	git("add", ".")
	git("commit", "-qm", "docs")
	if n := planned(); n != 0 {
		t.Errorf("after a README edit: %d cells planned, want 0", n)
	}
	c := filepath.Join(repo, "ngx_http_hello_world_module.c")
	b, _ := os.ReadFile(c)
	os.WriteFile(c, append(b, []byte("\n/* a fix */\n")...), 0o644)
	git("commit", "-qam", "fix")
	second := git("rev-parse", "HEAD")
	if n := planned(); n != 1 {
		t.Fatalf("changed module: %d cells planned, want 1", n)
	}
	cycle()
	if n := planned(); n != 0 {
		t.Errorf("after the rebuild: %d cells planned, want 0", n)
	}
	rels := h.gh.Releases("acme/mod")
	if len(rels) != 1 || rels[0].MakeLatest != "false" {
		t.Fatalf("releases %+v: want one, created with make_latest false", rels)
	}
	var m *manifest.Manifest
	sums := ""
	byName := map[string]string{}
	for _, a := range rels[0].Assets {
		byName[a.Name] = a.SHA256
		switch a.Name {
		case release.ManifestName:
			var err error
			if m, err = manifest.Parse(a.Name, a.Data); err != nil {
				t.Fatal(err)
			}
		case release.SumsName:
			sums = string(a.Data)
		}
	}
	if m == nil || len(m.Entries) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	e := m.Entries[0]
	if e.Commit != second || e.Commit == first || !strings.HasPrefix(e.Identity, "tree:") {
		t.Errorf("entry commit %q identity %q; want %s", e.Commit, e.Identity, second)
	}
	if byName[e.File] != e.SHA256 || !strings.Contains(sums, e.SHA256+"  "+e.File) {
		t.Errorf("asset %s sha %s, manifest %s, SHA256SUMS %q", e.File, byName[e.File], e.SHA256, sums)
	}
}

// helloRepo makes a git repository of the hello-world example module with
// the given .github/nginx-modbuild.yml, committed; git runs git in it.
func helloRepo(t *testing.T, config string) (string, func(args ...string) string) {
	t.Helper()
	repo := t.TempDir()
	src := filepath.Join(testenv.RepoRoot(), "examples", "hello-world")
	for _, f := range []string{"config", "ngx_http_hello_world_module.c"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(repo, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("/dist/\n"), 0o644)
	os.MkdirAll(filepath.Join(repo, ".github"), 0o755)
	os.WriteFile(filepath.Join(repo, ".github", "nginx-modbuild.yml"), []byte(config), 0o644)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-qm", "hello")
	return repo, git
}
