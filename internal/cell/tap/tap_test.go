package tap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name string) Result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRealStreams reads what Test::Nginx printed for headers-more 0.34's
// suite on nginx 1.26.3 (stdout and stderr as one stream, as the runner
// reads them): a file that passes, one with failures and their
// diagnostics (error-log patterns of an nginx without --with-debug), and
// one that bailed out when nginx could not start (a block needing lua).
// The counts are prove's for the same files.
func TestRealStreams(t *testing.T) {
	for _, c := range []struct {
		file    string
		want    Counts
		problem string
	}{
		{"hm-phase.tap", Counts{Ran: 3, Passed: 3}, ""},
		{"hm-unused.tap", Counts{Ran: 52, Passed: 48, Failed: 4}, ""},
		{"hm-bug.tap", Counts{Ran: 30, Passed: 30, Missing: 82}, "bailed out: t/bug.t TEST 13: set multi values to cache-control"},
	} {
		r := parseFile(t, c.file)
		if got := r.Counts(); got != c.want {
			t.Errorf("%s: counts %+v, want %+v", c.file, got, c.want)
		}
		if p := r.Problem(); c.problem == "" && p != "" || !strings.HasPrefix(p, c.problem) {
			t.Errorf("%s: problem %q, want %q", c.file, p, c.problem)
		}
	}
	r := parseFile(t, "hm-unused.tap")
	var failed []Test
	for _, x := range r.Tests {
		if x.Failed() {
			failed = append(failed, x)
		}
	}
	if len(failed) != 4 || failed[0].Number != 12 ||
		failed[0].Desc != `t/unused.t TEST 1: used output filter - pattern "headers more header filter" should match a line in error.log (req 0)` ||
		len(failed[0].Diag) != 2 || !strings.Contains(failed[0].Diag[1], "Socket.pm line") {
		t.Errorf("first failure %+v", failed[0])
	}
}

// TestDirectives: TAP's own grammar beyond what a passing suite prints.
func TestDirectives(t *testing.T) {
	in := `TAP version 13
ok 1 - plain
not ok 2 - broken # TODO not done yet
ok 3 # skip no lua here
ok - counted without a number
not ok 5 - escaped \# is no directive
# a diagnostic of test 5
ok 6 - t/x.t TEST 2: name - status code ok # SKIP needs lua
1..6
`
	r, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Counts(); got != (Counts{Ran: 6, Passed: 2, Failed: 1, Skipped: 2, Todo: 1}) {
		t.Errorf("counts %+v", got)
	}
	if r.Tests[1].Directive != "todo" || r.Tests[1].Reason != "not done yet" || r.Tests[1].Desc != "broken" {
		t.Errorf("todo %+v", r.Tests[1])
	}
	if r.Tests[3].Number != 4 || r.Tests[4].Directive != "" || r.Tests[4].Diag[0] != "a diagnostic of test 5" {
		t.Errorf("numbering or escape: %+v %+v", r.Tests[3], r.Tests[4])
	}
	if r.Tests[5].Directive != "skip" || r.Tests[5].Desc != "t/x.t TEST 2: name - status code ok" || r.Problem() != "" {
		t.Errorf("skip %+v, problem %q", r.Tests[5], r.Problem())
	}
	r, _ = Parse(strings.NewReader("1..0 # SKIP no nginx here\n"))
	if r.Planned != 0 || r.SkipAll != "no nginx here" {
		t.Errorf("skip all: %+v", r)
	}
	r, _ = Parse(strings.NewReader("1..3\nok 1\n"))
	if r.Problem() != "planned 3 tests but ran 1" || r.Counts().Missing != 2 {
		t.Errorf("short: %q %+v", r.Problem(), r.Counts())
	}
}
