package testenv

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Pin is one module of the upstream corpus (testdata/upstream/LOCK): a
// repository as its maintainer publishes it, at a pinned commit.
type Pin struct {
	Name, Repo, Commit, Tree string
	// Paths, when set, are the only paths of the repository kept.
	Paths []string
}

// Pins reads testdata/upstream/LOCK.
func Pins(t testing.TB) map[string]Pin {
	t.Helper()
	p := filepath.Join(RepoRoot(), "testdata", "upstream", "LOCK")
	f, err := os.Open(p)
	if err != nil {
		t.Fatalf("the upstream corpus' pins: %v", err)
	}
	defer f.Close()
	pins := map[string]Pin{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fs := strings.Fields(l)
		if len(fs) != 4 && len(fs) != 5 {
			t.Fatalf("%s:%d: want NAME REPOSITORY COMMIT TREE-SHA256 [PATHS], got %q", p, n, l)
		}
		pin := Pin{Name: fs[0], Repo: fs[1], Commit: fs[2], Tree: fs[3]}
		if len(fs) == 5 {
			pin.Paths = strings.Split(fs[4], ",")
		}
		pins[fs[0]] = pin
	}
	return pins
}

// Upstream unpacks module name of the upstream corpus into a new
// directory and returns it, its contents checked against the pinned
// SHA-256 tree id. The archive comes from $NGINX_MODBUILD_TEST_INPUTS/
// upstream/ (scripts/upstream's download), else ../shared/upstream/, else
// testdata/upstream/, the repository's offline copy; the log says which.
func Upstream(t testing.TB, name string) string {
	t.Helper()
	pin, ok := Pins(t)[name]
	if !ok {
		t.Fatalf("upstream module %s is not pinned in testdata/upstream/LOCK", name)
	}
	Tool(t, "git", "git")
	tarball, from := upstreamArchive(t, name)
	root := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", tarball, err, out)
	}
	dir := filepath.Join(root, name)
	tree, err := exec.Command(filepath.Join(RepoRoot(), "scripts", "tree-id"), dir).Output()
	if err != nil {
		t.Fatalf("tree id of %s: %v", tarball, err)
	}
	if got := strings.TrimSpace(string(tree)); got != pin.Tree {
		t.Fatalf("upstream module %s (%s): its files' git tree is %s, pinned %s (%s@%s): refused", name, tarball, got, pin.Tree, pin.Repo, pin.Commit)
	}
	t.Logf("upstream module %s: %s@%s, tree %s, from %s (%s)", name, pin.Repo, pin.Commit[:12], pin.Tree[:12], from, tarball)
	return dir
}

// upstreamArchive is where module name's archive is found, and a word on
// where that is.
func upstreamArchive(t testing.TB, name string) (tarball, from string) {
	t.Helper()
	for _, c := range []struct{ dir, what string }{
		{os.Getenv(InputsVar), "$" + InputsVar},
		{filepath.Join(RepoRoot(), "..", "shared"), "../shared"},
		{filepath.Join(RepoRoot(), "testdata"), "the repository's offline copy"},
	} {
		p := filepath.Join(c.dir, "upstream", name+".tar.gz")
		if _, err := os.Stat(p); c.dir != "" && err == nil {
			return p, c.what + downloaded(c.dir, "upstream/"+name+".tar.gz")
		}
	}
	t.Fatalf("upstream module %s: no %s.tar.gz in $%s/upstream, ../shared/upstream or testdata/upstream: run scripts/upstream DIR and set %s=DIR",
		name, name, InputsVar, InputsVar)
	return "", ""
}
