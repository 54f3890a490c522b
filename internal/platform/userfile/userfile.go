// Package userfile opens and reads files a user names (configs,
// nginx.conf and its includes, manifests, .so files) only when they are
// regular files, and reads them only up to a limit: a FIFO or device never
// blocks the tool, and a huge or sparse file never exhausts its memory.
package userfile

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Open opens path for reading if it is a regular file. It opens without
// blocking (a FIFO would otherwise wait for a writer) and checks the
// opened file, not the name, so a swap after a check cannot fool it.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%s): refused", path, kind(fi.Mode()))
	}
	return f, nil
}

// Read reads a regular file of at most limit bytes.
func Read(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		return nil, &TooLarge{Path: path, Size: fi.Size(), Limit: limit}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLarge{Path: path, Size: int64(len(b)), Limit: limit}
	}
	return b, nil
}

// TooLarge is a file over the limit of what the tool reads.
type TooLarge struct {
	Path        string
	Size, Limit int64
}

func (e *TooLarge) Error() string {
	return fmt.Sprintf("%s is %d bytes, over the %d-byte limit for this kind of file: refused", e.Path, e.Size, e.Limit)
}

func kind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
}
