package matrix

import (
	"go/build"
	"slices"
	"testing"
)

// TestPure keeps the package's promise: plain data in and out, no I/O,
// and no types of the packages that fetch (issue 22: matrix took
// upstream's release type).
func TestPure(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"os", "os/exec", "net/http", "io",
		"github.com/nginx-modbuild/nginx-modbuild/internal/plan/upstream",
		"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient",
		"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"} {
		if slices.Contains(pkg.Imports, banned) {
			t.Errorf("matrix imports %s", banned)
		}
	}
	if len(pkg.Imports) == 0 {
		t.Error("no imports read")
	}
}
