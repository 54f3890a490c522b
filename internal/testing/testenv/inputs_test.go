package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInputFromTheVariable: $NGINX_MODBUILD_TEST_INPUTS comes first, laid
// out as ../shared is.
func TestInputFromTheVariable(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "vendor"), 0o755)
	os.WriteFile(filepath.Join(dir, "vendor", "only-here.tar.gz"), []byte("x"), 0o644)
	t.Setenv(InputsVar, dir)
	if got := Input(t, "vendor/only-here.tar.gz"); got != filepath.Join(dir, "vendor", "only-here.tar.gz") {
		t.Errorf("Input = %q", got)
	}
	t.Run("missing", func(t *testing.T) {
		t.Setenv("CI", "")
		Input(t, "vendor/nowhere.tar.gz")
		t.Error("Input returned for an input in none of the three places")
	})
}
