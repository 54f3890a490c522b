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

// TestResolveChecksOutSubmodules: a git module is cloned as its
// maintainer publishes it, submodules included at the commits it pins
// (ngx_brotli's config stops when deps/brotli is empty), also when a
// cached clone moves to another ref.
func TestResolveChecksOutSubmodules(t *testing.T) {
	testenv.Tool(t, "git", "git")
	// file:// submodules are refused by default since git 2.38.1.
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "protocol.file.allow")
	t.Setenv("GIT_CONFIG_VALUE_0", "always")
	lib := t.TempDir()
	gitRun(t, lib, "init", "--quiet", "--initial-branch=main")
	os.MkdirAll(filepath.Join(lib, "c", "include"), 0o755)
	os.WriteFile(filepath.Join(lib, "c", "include", "encode.h"), []byte("/* v1 */\n"), 0o644)
	gitRun(t, lib, "add", ".")
	gitRun(t, lib, "commit", "--quiet", "-m", "v1")
	os.WriteFile(filepath.Join(lib, "c", "include", "encode.h"), []byte("/* v2 */\n"), 0o644)
	gitRun(t, lib, "commit", "--quiet", "-am", "v2")

	mod := t.TempDir()
	gitRun(t, mod, "init", "--quiet", "--initial-branch=main")
	os.WriteFile(filepath.Join(mod, "config"), []byte("ngx_addon_name=x\n"), 0o644)
	gitRun(t, mod, "submodule", "--quiet", "add", "file://"+lib, "deps/lib")
	gitRun(t, filepath.Join(mod, "deps", "lib"), "checkout", "--quiet", "HEAD~1")
	gitRun(t, mod, "add", ".")
	gitRun(t, mod, "commit", "--quiet", "-m", "pin lib v1")
	gitRun(t, mod, "tag", "v1")
	gitRun(t, filepath.Join(mod, "deps", "lib"), "checkout", "--quiet", "main")
	gitRun(t, mod, "commit", "--quiet", "-am", "pin lib v2")

	cache := t.TempDir()
	for _, c := range []struct{ ref, want string }{{"v1", "/* v1 */\n"}, {"main", "/* v2 */\n"}} {
		cfg := config.Default()
		cfg.Root = t.TempDir()
		cfg.Modules = []config.Module{{Git: "file://" + mod, Ref: c.ref}}
		got, err := Resolve(context.Background(), cfg, cache)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(got[0].Dir, "deps", "lib", "c", "include", "encode.h"))
		if string(b) != c.want {
			t.Errorf("ref %s: deps/lib/c/include/encode.h = %q (%v), want %q", c.ref, b, err, c.want)
		}
	}
}
