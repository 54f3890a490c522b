// Package testenv finds the real things tests use (the mirror of nginx and
// module sources from Debian's archive, Debian's nginx binary, a compiler)
// and decides what happens when one is missing: under CI=true the test
// fails; elsewhere it is skipped with the command that provides it.
package testenv

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// Missing reports a missing prerequisite.
func Missing(t testing.TB, what, fix string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing: %s (%s)", what, fix)
	}
	t.Skipf("prerequisite missing: %s (%s)", what, fix)
}

// RepoRoot is the repository root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Mirror returns the directory of real sources made by scripts/mirror
// ($NGINX_MODBUILD_MIRROR, default .cache/mirror in the repository),
// checking that it holds file.
func Mirror(t testing.TB, file string) string {
	t.Helper()
	dir := os.Getenv("NGINX_MODBUILD_MIRROR")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), ".cache", "mirror")
	}
	if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
		Missing(t, file+" in "+dir, "run scripts/mirror "+dir)
	}
	return dir
}

// Tool returns the path of a program that must be installed.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "apt-get install "+pkg)
	}
	return p
}

// HostLock serializes tests, across test binaries, that change this
// machine's packages or its nginx configuration (apt-get, dpkg -i): held
// until the test ends.
func HostLock(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "nginx-modbuild-host.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}

// SameTree fails the test for every path whose snapshot (any string
// saying its contents, mode and times) differs between before and after,
// and for every path after has that before had not; when says at what
// point of the test.
func SameTree(t testing.TB, when string, before, after map[string]string) {
	t.Helper()
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: %s changed: %q -> %q", when, p, v, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s was left behind", when, p)
		}
	}
}

// CopyTree copies src into dst (directories and regular files, with their
// permission bits), leaving out what keep rejects (nil keeps everything).
func CopyTree(t testing.TB, src, dst string, keep func(rel string, d fs.DirEntry) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && keep != nil && !keep(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
