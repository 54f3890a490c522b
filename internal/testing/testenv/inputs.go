package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// InputsVar names a directory laid out as ../shared is (vendor/,
// github-fixtures/): the test inputs this repository does not carry.
const InputsVar = "NGINX_MODBUILD_TEST_INPUTS"

// Input is the path of a test input (rel: vendor/njs-0.8.9.tar.gz,
// github-fixtures), found in $NGINX_MODBUILD_TEST_INPUTS, else in
// ../shared beside the repository (this project's CI machines). The
// test's log says which; with neither, the test fails (CI=true) or is
// skipped with one line naming both ways.
func Input(t testing.TB, rel string) string {
	t.Helper()
	for _, c := range []struct{ dir, what string }{
		{os.Getenv(InputsVar), "$" + InputsVar},
		{filepath.Join(RepoRoot(), "..", "shared"), "../shared"},
	} {
		if c.dir == "" {
			continue
		}
		p := filepath.Join(c.dir, rel)
		if _, err := os.Stat(p); err == nil {
			t.Logf("test input %s: from %s (%s)", rel, c.what, p)
			return p
		}
	}
	Missing(t, "test input "+rel, "set "+InputsVar+" to a directory laid out as ../shared (vendor/, github-fixtures/), or put the shared directory beside the repository")
	return ""
}
