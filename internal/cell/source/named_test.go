package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestNamed gets nginx.org's 1.18.0 tarball as a named source: its
// checksum is required and must match, {version} is the cell's version,
// the tree must be of that version, and a directory is read as it is
// (a freenginx-style nginx.h names its product).
func TestNamed(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.18.0.tar.gz")
	tarball := filepath.Join(mirror, "nginx-{version}.tar.gz")
	data, err := os.ReadFile(filepath.Join(mirror, "nginx-1.18.0.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	o := Options{CacheDir: t.TempDir()}
	ctx := context.Background()

	if _, err := Named(ctx, o, tarball, "1.18.0", ""); err == nil || !strings.Contains(err.Error(), "needs its SHA-256 pinned") {
		t.Errorf("no checksum: %v", err)
	}
	bad := strings.Repeat("0", 64)
	if _, err := Named(ctx, o, tarball, "1.18.0", bad); err == nil || !strings.Contains(err.Error(), "has SHA-256 "+sum) {
		t.Errorf("a wrong checksum: %v", err)
	}
	tr, err := Named(ctx, o, tarball, "1.18.0", strings.ToUpper(sum))
	if err != nil || tr.Product != "nginx" || tr.Version != "1.18.0" || !strings.Contains(tr.What, "sha256 "+sum) {
		t.Fatalf("Named = %+v, %v", tr, err)
	}
	if _, err := os.Stat(filepath.Join(tr.Dir, "configure")); err != nil {
		t.Errorf("the extracted tree: %v", err)
	}
	// Cached: the file is not read again.
	if again, err := Named(ctx, o, filepath.Join(t.TempDir(), "gone-{version}.tar.gz"), "1.18.0", sum); err != nil || again.Dir != tr.Dir {
		t.Errorf("from the cache: %+v %v", again, err)
	}
	if _, err := Named(ctx, o, tarball, "1.18.1", sum); err == nil {
		t.Errorf("the 1.18.0 tree for a 1.18.1 cell: no error")
	}

	// A directory: a fork's checkout, as freenginx's nginx.h names it.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src", "core"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "core", "nginx.h"), []byte("#define nginx_version      1027001\n#define NGINX_VERSION      \"1.27.1\"\n\n#define NGINX_NAME         \"freenginx\"\n"), 0o644)
	if tr, err := Named(ctx, o, dir, "1.27.1", ""); err != nil || tr.Product != "freenginx" || tr.Dir != dir {
		t.Errorf("a fork's directory: %+v %v", tr, err)
	}
	if _, err := Named(ctx, o, t.TempDir(), "1.27.1", ""); err == nil || !strings.Contains(err.Error(), "not an nginx source tree") {
		t.Errorf("an empty directory: %v", err)
	}
}
