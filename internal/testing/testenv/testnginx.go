package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNginxDeps are the Debian packages Test::Nginx's Perl code needs
// (../shared/vendor/README.md); scripts/test installs them.
var TestNginxDeps = []string{"libtest-base-perl", "libtext-diff-perl", "libtest-longstring-perl", "libwww-perl",
	"libipc-run-perl", "liburi-perl", "liblist-moreutils-perl"}

// TestNginx unpacks Test::Nginx (commit cf245a0, the test input
// vendor/test-nginx-cf245a0.tar.gz: see Input)
// into .cache once and returns its lib directory, for prove -I or
// modtest.Options.PerlLib. Its Perl dependencies must be on perl's @INC
// (the Debian packages above, or PERL5LIB).
func TestNginx(t testing.TB) string {
	t.Helper()
	Tool(t, "perl", "perl")
	tarball := Input(t, "vendor/test-nginx-cf245a0.tar.gz")
	dir := filepath.Join(RepoRoot(), ".cache", "test-nginx-cf245a0")
	lib := filepath.Join(dir, "test-nginx", "lib")
	if _, err := os.Stat(filepath.Join(lib, "Test", "Nginx", "Socket.pm")); err != nil {
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("tar", "-xzf", tarball, "-C", tmp).CombinedOutput(); err != nil {
			t.Fatalf("unpack %s: %v\n%s", tarball, err, out)
		}
		os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			t.Fatal(err)
		}
	}
	probe := exec.Command("perl", "-I"+lib, "-MTest::Nginx::Socket", "-e1")
	probe.Dir = t.TempDir()
	if out, err := probe.CombinedOutput(); err != nil {
		Missing(t, "Test::Nginx's Perl dependencies ("+strings.SplitN(string(out), "\n", 2)[0]+")", "apt-get install "+strings.Join(TestNginxDeps, " "))
	}
	return lib
}
