package action

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// theChange is the one-line behaviour change of the pull request: a
// header headers-more adds gets its name as its value.
const (
	changedFile = "src/ngx_http_headers_more_headers_out.c"
	changeFrom  = "    h->key = hv->key;\n    h->value = *value;\n\n    h->lowcase_key"
	changeTo    = "    h->key = hv->key;\n    h->value = hv->key;\n\n    h->lowcase_key"
)

// TestPullRequestRunsModuleTests is issue 25's pull-request acceptance:
// headers-more 0.34 (Debian's source) as a module repository whose check
// runs its own Test::Nginx suite under act, on the pull_request event. A
// one-line behaviour change makes the check red, with each failed test
// annotated at its block's line in t/*.t and named in the log; the
// change reverted, the check is green again.
func TestPullRequestRunsModuleTests(t *testing.T) {
	bin := actBin(t)
	testenv.Tool(t, "go", "golang")
	mirror := celltest.Prerequisites(t)
	testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	lib := testenv.TestNginx(t)

	ws := t.TempDir()
	copyTree(t, celltest.Module(t, mirror, "libnginx-mod-http-headers-more-filter_0.34.orig.tar.gz"), ws, func(string, fs.DirEntry) bool { return true })
	copyTree(t, celltest.Module(t, mirror, "libnginx-mod-http-echo_0.63.orig.tar.gz"), filepath.Join(ws, "deps", "echo"), func(string, fs.DirEntry) bool { return true })
	copyTree(t, filepath.Join(testenv.RepoRoot(), "action", "testdata", "prcheck"), ws, func(string, fs.DirEntry) bool { return true })
	copyAction(t, ws)
	commitAll(t, ws)
	src := filepath.Join(ws, changedFile)
	orig := mustRead(t, src)
	if !bytes.Contains(orig, []byte(changeFrom)) {
		t.Fatalf("%s no longer has the line the change edits", changedFile)
	}
	shared := t.TempDir()
	env := []string{"MIRROR=" + mirror, "SHARED=" + shared, "TEST_NGINX=" + lib}
	if p := os.Getenv("PERL5LIB"); p != "" {
		env = append(env, "PERL5LIB="+p)
	}
	run := func() (string, error) {
		t.Helper()
		os.RemoveAll(filepath.Join(shared, "dist"))
		return runAct(t, bin, ws, "pull_request pr.yml",
			[]string{"pull_request", "-W", ".github/workflows/pr.yml", "-e", "event.json", "-P", "ubuntu-latest=-self-hosted", "--pull=false"}, env)
	}

	// The pull request: one line changed.
	os.WriteFile(src, bytes.Replace(orig, []byte(changeFrom), []byte(changeTo), 1), 0o644)
	out, err := run()
	if err == nil {
		t.Fatalf("the check passed with the change:\n%s", testenv.Tail(out, 60))
	}
	annotation := regexp.MustCompile(`::error file=(t/[a-z-]+\.t),line=(\d+),title=t/[a-z-]+\.t::nginx 1\.26\.3 [a-z0-9-]+: TEST \d+: `)
	marks := annotation.FindAllStringSubmatch(out, -1)
	if len(marks) == 0 || !strings.Contains(out, "FAIL t/sanity.t:") || !strings.Contains(out, "(test): ") {
		t.Fatalf("no failed test annotated at its t/ line or named in the log:\n%s", testenv.Tail(out, 80))
	}
	// Each annotation's line is its block's header in the file.
	for _, m := range marks[:min(len(marks), 20)] {
		lines := strings.Split(string(mustRead(t, filepath.Join(ws, m[1]))), "\n")
		n, _ := strconv.Atoi(m[2])
		if n < 1 || n > len(lines) || !strings.HasPrefix(lines[n-1], "=== TEST ") {
			t.Errorf("annotation at %s:%s is not a block header", m[1], m[2])
		}
	}
	t.Logf("with the change: %d annotations, first %s:%s", len(marks), marks[0][1], marks[0][2])

	// Reverted: green.
	os.WriteFile(src, orig, 0o644)
	out, err = run()
	if err != nil {
		t.Fatalf("the check failed with the change reverted: %v\n%s", err, testenv.Tail(out, 80))
	}
	if annotation.MatchString(out) || !strings.Contains(out, "0 failed") {
		t.Errorf("the reverted run still reports failures:\n%s", testenv.Tail(out, 60))
	}
	// incremental: true reached the build. Under act each run copies the
	// workspace to a new directory (its host executor), and the module's
	// path is part of the key (configure writes it into the Makefile), so
	// every act run is cold; TestIncrementalCell shows the warm re-check.
	if !strings.Contains(out, "incremental: no kept tree for these inputs") {
		t.Errorf("the build did not keep its tree:\n%s", testenv.Tail(out, 60))
	}
}
