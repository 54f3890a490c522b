package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// lockedBuffer is a bytes.Buffer the test reads while the command writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestInterruptedBuildRecordsNothing is issue 30's item 14: SIGTERM
// while make runs ends the build with exit status 143, says it was
// interrupted (not "did not compile"), and leaves no cell manifest and
// no .so, so the next plan builds the cell again.
func TestInterruptedBuildRecordsNothing(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "make", "make")
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	bin := testenv.ToolBinary(t)
	repo := spyRepo(t, filepath.Join(t.TempDir(), "dump"))
	out := filepath.Join(t.TempDir(), "dist")
	// --target-nginx none: this host's Debian nginx 1.22.1 would judge
	// the cell (no smoke nginx compiled), and make would end before the
	// signal.
	cmd := exec.Command(bin, "build", "--nginx", "1.22.1", "--target-nginx", "none", "--mirror", mirror, "--out", out, "--cache-dir", t.TempDir())
	cmd.Dir, cmd.Env = repo, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C"}
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// configure's end is logged when make starts.
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(logs.String(), "configure:") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("configure did not end in 5 minutes:\n%s", testenv.Tail(logs.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // make is compiling
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Errorf("exit %v, want status 143 (128+SIGTERM)\n%s", err, testenv.Tail(logs.String(), 20))
	}
	text := logs.String()
	if !strings.Contains(text, "interrupted") || strings.Contains(text, "did not compile") || strings.Contains(text, "FAILED") {
		t.Errorf("the log does not say the cell was interrupted (or calls it a failure):\n%s", testenv.Tail(text, 20))
	}
	left, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(left) > 0 {
		t.Errorf("an interrupted cell left %v", left)
	}
}
