package testenv

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// InputsVar names a directory laid out as ../shared is (vendor/,
// github-fixtures/): the test inputs this repository does not carry.
const InputsVar = "NGINX_MODBUILD_TEST_INPUTS"

// inputWays is what a test without its input says to do.
const inputWays = "set " + InputsVar + " to a directory laid out as ../shared (vendor/, github-fixtures/), " +
	"put the shared directory beside the repository, or run scripts/inputs .cache/inputs (a pinned download it verifies; scripts/test runs it)"

// Input is the path of a test input (rel: vendor/njs-0.8.9.tar.gz,
// github-fixtures), found in $NGINX_MODBUILD_TEST_INPUTS, else in
// ../shared beside the repository (this project's CI machines).
// scripts/test sets the variable to scripts/inputs' verified download
// when neither has it. The test's log says where the input came from
// (the download's SOURCES line where there is one); with none of the
// three, the test fails with one line naming them: never a skip.
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
			t.Logf("test input %s: from %s (%s)%s", rel, c.what, p, downloaded(c.dir, rel))
			return p
		}
	}
	t.Fatalf("test input %s is missing: %s", rel, inputWays)
	return ""
}

// downloaded is ", downloaded: <SOURCES line>" for an input
// scripts/inputs fetched into dir (for a directory input, its first
// file's line), else "".
func downloaded(dir, rel string) string {
	f, err := os.Open(filepath.Join(dir, "SOURCES"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, _, _ := strings.Cut(sc.Text(), " "); name == rel || strings.HasPrefix(name, rel+"/") {
			return ", downloaded: " + sc.Text()
		}
	}
	return ""
}
