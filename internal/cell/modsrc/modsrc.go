// Package modsrc resolves a config's module entries to directories on
// disk: a path in the repository, or a git repository cloned at a ref with
// the git CLI, its submodules checked out. The commit built is recorded.
package modsrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
)

// Source is a module ready to build.
type Source struct {
	ID, Dir, Commit string
	// Identity names the module's content: "git:<commit>" for a git
	// module, "tree:<sha256>" of the files of a path module (see
	// Identity); a release built from another identity is out of date.
	Identity string
	// Entry is the module's entry in the config (env, libs, packages,
	// requires).
	Entry config.Module
}

// Resolve returns the directory of every module: paths relative to root,
// git modules cloned (or updated) under cacheDir/git. The directories the
// tool itself writes, cacheDir and the others given (build's --out), are
// no part of a path module's identity, wherever they are (the example
// workflows keep the cache inside the checkout).
func Resolve(ctx context.Context, cfg *config.Config, cacheDir string, written ...string) ([]Source, error) {
	var skip []string
	for _, d := range append([]string{cacheDir}, written...) {
		if d == "" {
			continue
		}
		if abs, err := filepath.Abs(d); err == nil {
			skip = append(skip, abs)
		}
	}
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
			id, err := Identity(ctx, abs, cfg.Root, skip...)
			if err != nil {
				return nil, fmt.Errorf("module %s (config line %d): %w", m.Path, m.Pos.Line, err)
			}
			out = append(out, Source{ID: m.ID(), Dir: abs, Commit: commitOf(ctx, abs), Identity: id, Entry: m})
			continue
		}
		s, err := clone(ctx, m, filepath.Join(cacheDir, "git"))
		if err != nil {
			return nil, fmt.Errorf("module %s (config line %d): %w", m.Git, m.Pos.Line, err)
		}
		s.Entry = m
		s.Identity = "git:" + s.Commit
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
	// Untracked files (build output such as dist/) do not make it dirty;
	// changes to tracked files do. The content identity covers both.
	if st, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no", "--", "."); err == nil && strings.TrimSpace(st) != "" {
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
	// A module's submodules are part of it as its maintainer publishes it
	// (ngx_brotli's deps/brotli, naxsi's libinjection: their configs stop
	// without them), at the commits the superproject pins.
	if _, err := os.Stat(filepath.Join(dir, ".gitmodules")); err == nil {
		if _, err := git(ctx, dir, "submodule", "update", "--init", "--recursive", "--force", "--quiet"); err != nil {
			return Source{}, fmt.Errorf("ref %q: its submodules (.gitmodules): %w", ref, err)
		}
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

// Identity hashes what a path module is made of: every file in dir that
// git tracks or would track (untracked but not ignored), or every file
// when dir is not in a git work tree, with its path and mode. Left out:
// .git, the repository's .github directory, Markdown files and nginx-
// modbuild's own output and cache directories (dist, .cache), so a README
// edit or a build's output does not make the module "changed".
//
// skip names more directories to leave out (absolute paths).
func Identity(ctx context.Context, dir, root string, skip ...string) (string, error) {
	var files []string
	if out, err := git(ctx, dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."); err == nil {
		for _, f := range strings.Split(out, "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
	} else {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				rel, _ := filepath.Rel(dir, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hash module %s: %w", dir, err)
		}
	}
	sort.Strings(files)
	h := sha256.New()
	n := 0
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if skipInIdentity(f) || under(p, skip) {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue // deleted in the work tree
		}
		var data []byte
		switch {
		case fi.Mode().IsRegular():
			if data, err = os.ReadFile(p); err != nil {
				return "", fmt.Errorf("hash module %s: %w", dir, err)
			}
		case fi.Mode()&os.ModeSymlink != 0:
			link, _ := os.Readlink(p)
			data = []byte(link)
		default:
			continue
		}
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", f, fi.Mode()&0o111, len(data))
		h.Write(data)
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("module %s has no files", dir)
	}
	return "tree:" + hex.EncodeToString(h.Sum(nil)), nil
}

// under reports whether path p is in one of dirs.
func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

func skipInIdentity(f string) bool {
	first, _, _ := strings.Cut(f, "/")
	switch first {
	case ".git", ".github", "dist", ".cache":
		return true
	}
	return strings.HasSuffix(strings.ToLower(f), ".md")
}
