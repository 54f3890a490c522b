package modtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// portLock is the file serial suites on one machine take turns on:
// each listens on Test::Nginx's fixed port (1984, the next ones for its
// stream and extra servers), so two at once fail each other's tests.
var portLock = filepath.Join(os.TempDir(), "nginx-modbuild-test-nginx-port.lock")

// lockPort waits until no other serial suite on this machine runs, and
// returns what ends its own turn.
func lockPort(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(portLock, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("take turns on Test::Nginx's port 1984: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("take turns on Test::Nginx's port 1984 (%s): %w", portLock, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another suite on port 1984 to end: %w", context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
