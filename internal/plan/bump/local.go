package bump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// Local is a repository's working tree as a Tree: its files are those git
// tracks or would track (untracked files not ignored), or, outside a git
// repository, every file but hidden directories'. A file's SHA is its
// path; nothing is ever written through it.
type Local struct {
	Dir string
}

// DefaultBranch names the working tree.
func (Local) DefaultBranch(context.Context) (string, error) { return "(working tree)", nil }

// Head is the working tree itself.
func (Local) Head(context.Context, string) (string, error) { return "(working tree)", nil }

// Commit lists the working tree's files.
func (l Local) Commit(ctx context.Context, _ string) (string, []string, []TreeFile, error) {
	paths, err := l.paths(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	var files []TreeFile
	for _, p := range paths {
		fi, err := os.Lstat(filepath.Join(l.Dir, filepath.FromSlash(p)))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted but still tracked, a symlink, a submodule
		}
		files = append(files, TreeFile{Path: p, Mode: "100644", SHA: p, Size: int(min(fi.Size(), 1<<40))})
	}
	return "(working tree)", nil, files, nil
}

// Blob reads a file of the working tree (its SHA is its path).
func (l Local) Blob(_ context.Context, p string) ([]byte, error) {
	if !filepath.IsLocal(filepath.FromSlash(p)) {
		return nil, fmt.Errorf("%s: not a path inside %s", p, l.Dir)
	}
	return userfile.Read(filepath.Join(l.Dir, filepath.FromSlash(p)), maxFile)
}

func (l Local) paths(ctx context.Context) ([]string, error) {
	cmd := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = l.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		var paths []string
		for _, p := range strings.Split(string(out), "\x00") {
			if p != "" {
				paths = append(paths, p)
			}
		}
		return paths, nil
	}
	var exit *exec.ExitError
	if !errors.Is(err, exec.ErrNotFound) && !(errors.As(err, &exit) && strings.Contains(stderr.String(), "not a git repository")) {
		return nil, fmt.Errorf("list the files of %s: git ls-files: %v: %s", l.Dir, err, strings.TrimSpace(stderr.String()))
	}
	var paths []string
	err = filepath.WalkDir(l.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != l.Dir && strings.HasPrefix(d.Name(), ".") && d.Name() != ".github" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(l.Dir, p)
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	return paths, err
}
