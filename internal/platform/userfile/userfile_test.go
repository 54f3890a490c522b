package userfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRefusesFIFOWithoutBlocking(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Read(fifo, 1<<20); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a regular file (a FIFO): refused") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
	if _, err := Read(t.TempDir(), 10); err == nil || !strings.Contains(err.Error(), "a directory") {
		t.Errorf("directory: %v", err)
	}
}

func TestLimitOnSparseFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(200 << 30) // 200 GB, no blocks
	f.Close()
	_, err = Read(p, 1<<20)
	var tl *TooLarge
	if !errors.As(err, &tl) || !strings.Contains(err.Error(), "214748364800 bytes, over the 1048576-byte limit") {
		t.Errorf("err = %v", err)
	}
	os.WriteFile(p, []byte("ok"), 0o644)
	if b, err := Read(p, 2); err != nil || string(b) != "ok" {
		t.Errorf("Read = %q, %v", b, err)
	}
}
