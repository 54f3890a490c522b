package source

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxExtracted bounds what an archive may unpack to (nginx: about 6 MB).
const maxExtracted = 1 << 30

// Extract unpacks a .tar.gz into dest and returns the directory holding
// the sources: the archive's single top-level directory, if it has one.
// It refuses absolute paths, "..", links pointing out of dest, device
// files, FIFOs and archives that unpack to more than 1 GiB.
func Extract(r io.Reader, dest string) (string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return "", fmt.Errorf("extract: %w", err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", err
	}
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
		target := filepath.Join(dest, filepath.FromSlash(name))
		if err := insideDir(dest, target); err != nil {
			return "", err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return "", err
			}
		case tar.TypeReg:
			total += h.Size
			if h.Size < 0 || total > maxExtracted {
				return "", fmt.Errorf("extract: archive unpacks to more than %d bytes", maxExtracted)
			}
			if err := writeEntry(dest, target, tr, h); err != nil {
				return "", err
			}
		case tar.TypeSymlink:
			if err := checkLink(dest, name, h.Linkname, true); err != nil {
				return "", err
			}
			if err := mkParent(dest, target); err != nil {
				return "", err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return "", fmt.Errorf("extract %s: %w", name, err)
			}
		case tar.TypeLink:
			if err := checkLink(dest, name, h.Linkname, false); err != nil {
				return "", err
			}
			old, _ := cleanName(h.Linkname)
			if err := mkParent(dest, target); err != nil {
				return "", err
			}
			if err := os.Link(filepath.Join(dest, filepath.FromSlash(old)), target); err != nil {
				return "", fmt.Errorf("extract %s: %w", name, err)
			}
		default:
			return "", fmt.Errorf("extract: %s is a device, FIFO or other special file (type %q): refused", h.Name, h.Typeflag)
		}
	}
	if len(tops) == 0 {
		return "", fmt.Errorf("extract: the archive is empty")
	}
	if len(tops) == 1 {
		for top := range tops {
			if fi, err := os.Stat(filepath.Join(dest, top)); err == nil && fi.IsDir() {
				return filepath.Join(dest, top), nil
			}
		}
	}
	return dest, nil
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

// checkLink refuses links whose target lies outside dest.
func checkLink(dest, name, link string, symbolic bool) error {
	if link == "" || path.IsAbs(link) || strings.ContainsRune(link, 0) {
		return fmt.Errorf("extract: link %s -> %q: refused", name, link)
	}
	resolved := link
	if symbolic {
		resolved = path.Join(path.Dir(name), link)
	}
	clean := path.Clean(resolved)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("extract: link %s -> %s points outside the archive: refused", name, link)
	}
	return nil
}

// insideDir makes sure target, with every symlink on the way resolved,
// stays within dest: an earlier entry may have planted a link that a later
// one tries to write through.
func insideDir(dest, target string) error {
	rel, err := filepath.Rel(dest, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("extract: %s leaves the directory: refused", target)
	}
	p := dest
	for _, part := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
		if part == "." {
			continue
		}
		p = filepath.Join(p, part)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("extract: %s is written through the link %s: refused", target, p)
		}
	}
	return nil
}

func mkParent(dest, target string) error {
	if err := insideDir(dest, target); err != nil {
		return err
	}
	if fi, err := os.Lstat(target); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("extract: %s would replace a link: refused", target)
	}
	return os.MkdirAll(filepath.Dir(target), 0o755)
}

func writeEntry(dest, target string, r io.Reader, h *tar.Header) error {
	if err := mkParent(dest, target); err != nil {
		return err
	}
	mode := os.FileMode(h.Mode).Perm() &^ 0o022
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o200)
	if err != nil {
		return fmt.Errorf("extract %s: %w", h.Name, err)
	}
	if _, err := io.Copy(f, io.LimitReader(r, h.Size)); err != nil {
		f.Close()
		return fmt.Errorf("extract %s: %w", h.Name, err)
	}
	return f.Close()
}
