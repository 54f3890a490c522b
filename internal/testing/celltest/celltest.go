// Package celltest is the test setup shared by the tests that build real
// cells (internal/cell, internal/host/preflight): the nginx tarballs of the
// source mirror served over HTTP with their pinned checksums, and module
// sources extracted from their Debian orig tarballs. Only tests import it.
package celltest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// Pinned are the checksums of the nginx tarballs Debian's archive serves
// without .asc (the upstream release tarballs, byte for byte).
var Pinned = map[string]string{
	"1.22.1": "9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31",
	"1.26.3": "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa",
}

// Prerequisites checks for a compiler, make and the source mirror (with
// every module tarball scripts/mirror fetches) and returns the mirror.
func Prerequisites(t testing.TB) string {
	t.Helper()
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "make", "make")
	return testenv.Mirror(t, "libnginx-mod-http-auth-pam_1.5.5.orig.tar.gz")
}

// Source serves mirror over HTTP for one test and returns source options
// that verify the tarballs by Pinned (no signature keys are reachable).
func Source(t testing.TB, mirror string) source.Options {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(mirror)))
	t.Cleanup(srv.Close)
	kr, err := source.NewKeyring("http://127.0.0.1:1/", http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return source.Options{Mirror: srv.URL + "/", CacheDir: t.TempDir(), SHA256: Pinned, Keyring: kr, HTTP: http.DefaultClient}
}

// Module extracts a module's orig tarball from the mirror and returns its
// directory.
func Module(t testing.TB, mirror, tarball string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(mirror, tarball))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir, err := source.Extract(f, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Compiler is this machine's C compiler, as a command asks it.
func Compiler(t testing.TB) machine.Compiler {
	t.Helper()
	c, err := machine.Local(os.Getenv).Compiler(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
