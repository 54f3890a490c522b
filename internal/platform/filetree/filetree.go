// Package filetree copies a directory tree: regular files with their
// permissions, directories, and symbolic links as links (never followed).
// The nginx source trees a cell builds (a distro's module SDK, a fork's
// checkout) and the module directories a test suite runs in are copied
// with it.
package filetree

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Copy copies the tree at src to dst. skipDir, when set, leaves out each
// directory below src it returns true for (with everything in it); other
// file types (devices, sockets) are left out.
func Copy(src, dst string, skipDir func(d fs.DirEntry) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() && rel != "." && skipDir != nil && skipDir(d) {
			return filepath.SkipDir
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, to)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return os.WriteFile(to, data, fi.Mode().Perm())
		}
		return nil
	})
}
