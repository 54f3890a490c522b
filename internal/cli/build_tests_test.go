package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modsrc"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/workflow"
)

// TestTestsReport: a cell's suite results become annotations at the
// failed block's line of the module's t/ file (a warning when the suite
// is not required) and a step summary with counts, the failed tests and
// the declared skips with their reasons.
func TestTestsReport(t *testing.T) {
	cell := manifest.Cell{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Tests: []manifest.Tests{{
		Module: "mods/hm", Required: true, Ran: 10, Passed: 8, Failed: 1, Skipped: 1, FailedFiles: 1, Seconds: 4,
		Files: []manifest.TestFile{{File: "t/sanity.t", Ran: 10, Failed: 1, Failures: []manifest.TestFailure{{
			Number: 3, Desc: "t/sanity.t TEST 2: simple set - header X-Foo ok", Block: 2, Line: 33, Diag: "got: 'X-Foo'\nexpected: 'Blah'"}}}},
		Skips: []manifest.TestSkip{{File: "t/bug.t", Block: 13, Reason: "needs lua-nginx-module"}},
	}, {Module: "mods/echo", Required: false, Ran: 2, Failed: 2, FailedFiles: 1,
		Files: []manifest.TestFile{{File: "t/x.t", Failures: []manifest.TestFailure{{Desc: "t/x.t TEST 1: a - status", Line: 5}}}}}}}
	mods := []modsrc.Source{{ID: "mods/hm", Dir: "/ws/mods/hm"}, {ID: "mods/echo", Dir: "/elsewhere/echo"}}
	var out, sum bytes.Buffer
	d := &Deps{Stdout: &out, Dir: "/ws", Workflow: workflow.New(func(k string) string { return map[string]string{"GITHUB_ACTIONS": "true"}[k] }, &out)}
	annotateTests(d, cell, mods)
	testsSummary(&sum, []manifest.Cell{cell})
	want := "::error file=mods/hm/t/sanity.t,line=33,title=t/sanity.t::nginx 1.26.3 debian-12: TEST 2: simple set - header X-Foo ok%0Agot: 'X-Foo'%0Aexpected: 'Blah'\n" +
		"::warning title=mods/echo t/x.t::nginx 1.26.3 debian-12: TEST 1: a - status\n"
	if out.String() != want {
		t.Errorf("annotations:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, s := range []string{"| mods/hm | nginx 1.26.3 debian-12/amd64 | ✗ | 8 | 1 | 1 | 1 of 1 | 4 s |", "✗ (not required)",
		"- mods/hm, nginx 1.26.3 debian-12/amd64: `t/sanity.t:33` TEST 2: simple set - header X-Foo ok",
		"- mods/hm: `t/bug.t TEST 13`: needs lua-nginx-module"} {
		if !strings.Contains(sum.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, sum.String())
		}
	}
}

// TestTestWithoutSuites: build --test when no module declares a test:
// is a config error before anything builds (issue 33 item 3: a check
// that asked for tests and ran none passed green).
func TestTestWithoutSuites(t *testing.T) {
	h := newHarness(t)
	r := h.run("build", "--nginx", "1.26.3", "--test", "--out", t.TempDir())
	if r.code != 2 || r.err == nil || !strings.Contains(r.err.Error(), "build --test: no module has a test: entry, so no test would run") {
		t.Errorf("exit %d, %v", r.code, r.err)
	}
}
