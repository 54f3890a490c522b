package modsrc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestResolveGitAndPath(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "git", "git")
	upstream := t.TempDir()
	gitRun(t, upstream, "init", "--quiet", "--initial-branch=main")
	os.WriteFile(filepath.Join(upstream, "config"), []byte("ngx_addon_name=x\n"), 0o644)
	gitRun(t, upstream, "add", ".")
	gitRun(t, upstream, "commit", "--quiet", "-m", "v1")
	gitRun(t, upstream, "tag", "v1")
	v1 := gitRun(t, upstream, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(upstream, "config"), []byte("ngx_addon_name=x2\n"), 0o644)
	gitRun(t, upstream, "commit", "--quiet", "-am", "v2")
	v2 := gitRun(t, upstream, "rev-parse", "HEAD")

	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "local"), 0o755)
	os.WriteFile(filepath.Join(root, "local", "config"), []byte("ngx_addon_name=l\n"), 0o644)
	cfg := config.Default()
	cfg.Root = root
	cfg.Modules = []config.Module{
		{Path: "local"},
		{Git: "file://" + upstream, Ref: "v1"},
		{Git: "file://" + upstream, Ref: "main"},
		{Git: "file://" + upstream, Ref: v1[:12]},
	}
	cache := t.TempDir()
	got, err := Resolve(context.Background(), cfg, cache)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Dir != filepath.Join(root, "local") || got[0].Commit != "" {
		t.Errorf("path module: %+v", got[0])
	}
	if got[1].Commit != v1 || got[2].Commit != v2 || got[3].Commit != v1 {
		t.Errorf("commits: %s %s %s, want %s %s %s", got[1].Commit, got[2].Commit, got[3].Commit, v1, v2, v1)
	}
	cfg.Modules = []config.Module{{Git: "file://" + upstream, Ref: "no-such-tag", Pos: config.Pos{Line: 7}}}
	if _, err := Resolve(context.Background(), cfg, cache); err == nil || !strings.Contains(err.Error(), `config line 7): ref "no-such-tag"`) {
		t.Errorf("bad ref: %v", err)
	}
}

// TestIdentityLeavesOutToolDirs is issue 21 item 9: the example
// workflows keep the cache (with the smoke nginx) and the output inside
// the checkout, untracked; a warm build must see the same module as a
// clean checkout, or every scheduled run rebuilds every cell.
func TestIdentityLeavesOutToolDirs(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "git", "git")
	repo := t.TempDir()
	gitRun(t, repo, "init", "--quiet", "--initial-branch=main")
	os.WriteFile(filepath.Join(repo, "config"), []byte("ngx_addon_name=x\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "x.c"), []byte("int x;\n"), 0o644)
	gitRun(t, repo, "add", ".")
	gitRun(t, repo, "commit", "--quiet", "-m", "module")
	cfg := &config.Config{Root: repo, Modules: []config.Module{{Path: "."}}}
	cache, out := filepath.Join(repo, ".nginx-modbuild-cache"), filepath.Join(repo, "build-out", "1.26.3-debian-12-amd64")
	clean, err := Resolve(context.Background(), cfg, cache, out)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(cache, "smoke-nginx", "k", "nginx"), filepath.Join(out, "x_1.26.3.so")} {
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, []byte("built"), 0o755)
	}
	warm, err := Resolve(context.Background(), cfg, cache, out)
	if err != nil {
		t.Fatal(err)
	}
	if warm[0].Identity != clean[0].Identity {
		t.Errorf("the tool's own cache and output changed the module's identity: %s, clean %s", warm[0].Identity, clean[0].Identity)
	}
	os.WriteFile(filepath.Join(repo, "x.c"), []byte("int y;\n"), 0o644)
	if changed, _ := Resolve(context.Background(), cfg, cache, out); changed[0].Identity == clean[0].Identity {
		t.Error("a changed source kept the identity")
	}
}
