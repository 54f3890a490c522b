package filetree

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCopy copies files with their modes, a link as a link, and leaves
// out the directories skipDir names.
func TestCopy(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	os.MkdirAll(filepath.Join(src, "auto", "cc"), 0o755)
	os.MkdirAll(filepath.Join(src, "servroot", "logs"), 0o755)
	os.WriteFile(filepath.Join(src, "configure"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(src, "auto", "cc", "gcc"), []byte("CC=gcc\n"), 0o644)
	os.WriteFile(filepath.Join(src, "servroot", "logs", "error.log"), []byte("x"), 0o644)
	os.Symlink("auto/cc/gcc", filepath.Join(src, "gcc"))
	if err := Copy(src, dst, func(d fs.DirEntry) bool { return d.Name() == "servroot" }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "configure")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("configure: %v %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "auto", "cc", "gcc")); err != nil || string(b) != "CC=gcc\n" {
		t.Errorf("auto/cc/gcc: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "gcc")); err != nil || l != "auto/cc/gcc" {
		t.Errorf("the link: %q %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "servroot")); !os.IsNotExist(err) {
		t.Errorf("servroot copied: %v", err)
	}
}
