package source

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxExtracted bounds what an archive may unpack to (nginx: about 6 MB).
const maxExtracted = 1 << 30

// Extract unpacks a .tar.gz into dest and returns the directory holding
// the sources: the archive's single top-level directory, if it has one.
// Every file operation goes through an os.Root on dest, so no entry can
// reach outside it, whatever links earlier entries planted. It refuses
// absolute paths, "..", links that point (or, given the links already
// extracted, resolve) out of dest, writes through links, hardlinks to
// anything but a regular file already extracted, device files, FIFOs and
// archives that unpack to more than 1 GiB.
func Extract(r io.Reader, dest string) (string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return "", fmt.Errorf("extract: %w", err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return "", fmt.Errorf("extract: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	tops := map[string]bool{}
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// tar stops at its end marker; the gzip stream must still end
			// whole, with a good checksum.
			if _, err := io.Copy(io.Discard, zr); err != nil {
				return "", fmt.Errorf("extract: truncated or corrupt archive: %w", err)
			}
			break
		}
		if err != nil {
			return "", fmt.Errorf("extract: %w", err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader || h.Typeflag == tar.TypeXHeader {
			continue // metadata (git archive's pax_global_header), not a file
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return "", err
		}
		if name == "" {
			continue
		}
		tops[strings.SplitN(name, "/", 2)[0]] = true
		switch h.Typeflag {
		case tar.TypeDir:
			if err := notThroughLink(root, name, true); err != nil {
				return "", err
			}
			if err := root.MkdirAll(name, 0o755); err != nil {
				return "", fmt.Errorf("extract %s: %w: refused", name, err)
			}
		case tar.TypeReg:
			total += h.Size
			if h.Size < 0 || total > maxExtracted {
				return "", fmt.Errorf("extract: archive unpacks to more than %d bytes", maxExtracted)
			}
			if err := writeEntry(root, name, tr, h); err != nil {
				return "", err
			}
		case tar.TypeSymlink:
			if err := extractSymlink(root, name, h.Linkname); err != nil {
				return "", err
			}
		case tar.TypeLink:
			if err := extractHardlink(root, name, h.Linkname); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("extract: %s is a device, FIFO or other special file (type %q): refused", h.Name, h.Typeflag)
		}
	}
	return topDir(root, dest, tops)
}

// topDir is the archive's one top directory (nginx-1.26.3/), or dest
// when it has several entries at the top.
func topDir(root *os.Root, dest string, tops map[string]bool) (string, error) {
	if len(tops) == 0 {
		return "", fmt.Errorf("extract: the archive is empty")
	}
	if len(tops) == 1 {
		for top := range tops {
			if fi, err := root.Lstat(top); err == nil && fi.IsDir() {
				return filepath.Join(dest, top), nil
			}
		}
	}
	return dest, nil
}

// extractSymlink makes the link name -> link, refused when it leads
// outside the archive, by its text or resolved on disk.
func extractSymlink(root *os.Root, name, link string) error {
	if err := checkLink(name, link); err != nil {
		return err
	}
	if err := mkParent(root, name); err != nil {
		return err
	}
	if err := root.Symlink(link, name); err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	// Resolved on disk, through the links already there, it must
	// stay inside (a textual check misses "s/.." when s is a link).
	if _, err := root.Stat(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		root.Remove(name)
		return fmt.Errorf("extract: link %s -> %s resolves outside the archive: refused", name, link)
	}
	return nil
}

// extractHardlink links name to old, a regular file extracted before it.
func extractHardlink(root *os.Root, name, link string) error {
	old, err := cleanName(link)
	if err != nil || old == "" {
		return fmt.Errorf("extract: hardlink %s -> %q: refused", name, link)
	}
	if err := notThroughLink(root, old, false); err != nil {
		return err
	}
	fi, err := root.Lstat(old)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("extract: hardlink %s -> %s is not to a regular file extracted before it: refused", name, old)
	}
	if err := mkParent(root, name); err != nil {
		return err
	}
	if err := root.Link(old, name); err != nil {
		return fmt.Errorf("extract %s: %w: refused", name, err)
	}
	return nil
}

// cleanName rejects absolute and escaping names and normalises the rest.
func cleanName(name string) (string, error) {
	if strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("extract: bad file name %q: refused", name)
	}
	if path.IsAbs(name) {
		return "", fmt.Errorf("extract: absolute path %q: refused", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("extract: path %q leaves the directory: refused", name)
	}
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// checkLink refuses symlinks whose text is absolute or leaves dest.
func checkLink(name, link string) error {
	if link == "" || path.IsAbs(link) || strings.ContainsRune(link, 0) || strings.Contains(link, "\\") {
		return fmt.Errorf("extract: link %s -> %q: refused", name, link)
	}
	clean := path.Clean(path.Join(path.Dir(name), link))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("extract: link %s -> %s points outside the archive: refused", name, link)
	}
	return nil
}

// notThroughLink refuses a name whose directories (and, unless last is
// false, the name itself) include a symlink: an earlier entry may have
// planted a link that a later one tries to write through.
func notThroughLink(root *os.Root, name string, last bool) error {
	parts := strings.Split(name, "/")
	if !last {
		parts = parts[:len(parts)-1]
	}
	p := ""
	for _, part := range parts {
		p = path.Join(p, part)
		fi, err := root.Lstat(p)
		if err != nil {
			return nil // not there yet: created as a directory
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("extract: %s is written through the link %s: refused", name, p)
		}
	}
	return nil
}

func mkParent(root *os.Root, name string) error {
	if err := notThroughLink(root, name, false); err != nil {
		return err
	}
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("extract: %s would replace a link or directory: refused", name)
	}
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("extract %s: %w: refused", name, err)
		}
	}
	return nil
}

func writeEntry(root *os.Root, name string, r io.Reader, h *tar.Header) error {
	if err := mkParent(root, name); err != nil {
		return err
	}
	mode := os.FileMode(h.Mode).Perm() &^ 0o022
	// A file of this name already extracted may be a hardlink of another
	// extracted file: replace it rather than write into both.
	root.Remove(name)
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode|0o200)
	if err != nil {
		return fmt.Errorf("extract %s: %w", h.Name, err)
	}
	if _, err := io.Copy(f, io.LimitReader(r, h.Size)); err != nil {
		f.Close()
		return fmt.Errorf("extract %s: %w", h.Name, err)
	}
	return f.Close()
}
