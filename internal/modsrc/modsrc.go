// Package modsrc resolves a config's module entries to directories on
// disk: a path in the repository, or a git repository cloned at a ref with
// the git CLI. The commit built is recorded.
package modsrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/config"
)

// Source is a module ready to build.
type Source struct {
	ID, Dir, Commit string
	// Entry is the module's entry in the config (env, libs, packages,
	// requires).
	Entry config.Module
}

// Resolve returns the directory of every module: paths relative to root,
// git modules cloned (or updated) under cacheDir/git.
func Resolve(ctx context.Context, cfg *config.Config, cacheDir string) ([]Source, error) {
	var out []Source
	for _, m := range cfg.Modules {
		if m.Git == "" {
			dir := m.Path
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(cfg.Root, dir)
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return nil, err
			}
			out = append(out, Source{ID: m.ID(), Dir: abs, Commit: commitOf(ctx, abs), Entry: m})
			continue
		}
		s, err := clone(ctx, m, filepath.Join(cacheDir, "git"))
		if err != nil {
			return nil, fmt.Errorf("module %s (config line %d): %w", m.Git, m.Pos.Line, err)
		}
		s.Entry = m
		out = append(out, s)
	}
	return out, nil
}

// commitOf is the HEAD commit of the repository dir is in, if any, with
// "-dirty" when the module directory has uncommitted changes.
func commitOf(ctx context.Context, dir string) string {
	out, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(out)
	if st, err := git(ctx, dir, "status", "--porcelain", "--", "."); err == nil && strings.TrimSpace(st) != "" {
		commit += "-dirty"
	}
	return commit
}

func clone(ctx context.Context, m config.Module, cache string) (Source, error) {
	sum := sha256.Sum256([]byte(m.Git))
	dir := filepath.Join(cache, hex.EncodeToString(sum[:8])+"-"+strings.TrimSuffix(filepath.Base(m.Git), ".git"))
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return Source{}, err
		}
		os.RemoveAll(dir)
		if _, err := git(ctx, cache, "clone", "--quiet", "--", m.Git, dir); err != nil {
			return Source{}, err
		}
	} else if _, err := git(ctx, dir, "fetch", "--quiet", "--tags", "--force", "origin"); err != nil {
		return Source{}, err
	}
	ref := m.Ref
	if ref == "" {
		ref = "origin/HEAD"
	}
	// A branch name means the remote branch; tags and commits resolve as is.
	target := ref
	if _, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", "refs/remotes/origin/"+ref); err == nil {
		target = "origin/" + ref
	}
	if _, err := git(ctx, dir, "checkout", "--quiet", "--force", "--detach", target+"^{commit}", "--"); err != nil {
		return Source{}, fmt.Errorf("ref %q: %w", ref, err)
	}
	commit, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return Source{}, err
	}
	return Source{ID: m.ID(), Dir: dir, Commit: strings.TrimSpace(commit)}, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
