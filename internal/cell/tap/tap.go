// Package tap reads the Test Anything Protocol that a Perl test file
// prints (what prove reads): the plan, each test's ok or not ok with its
// directive, the diagnostics after a failure, and a bail out.
package tap

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Test is one test line.
type Test struct {
	Number int
	OK     bool
	// Desc is the description after the number ("- " removed).
	Desc string
	// Directive is "skip" or "todo" (lower case), or "".
	Directive string
	Reason    string
	// Diag are the "# " lines printed after it (the failure's got and
	// expected), without the "# ".
	Diag []string
}

// Failed says the test counts as a failure: not ok and not a TODO.
func (t Test) Failed() bool { return !t.OK && t.Directive != "todo" }

// Result is one test file's stream.
type Result struct {
	// Planned is the plan's count; -1 when the stream had no plan.
	Planned int
	// SkipAll is the reason of a "1..0 # SKIP reason" plan.
	SkipAll string
	Tests   []Test
	// BailOut is the reason given with "Bail out!"; Bailed says one came.
	BailOut string
	Bailed  bool
}

// Counts sums a result the way prove's summary does.
type Counts struct {
	// Ran is every test line (prove's "Tests="); Passed excludes skips
	// and TODOs; Failed is not ok without TODO; Missing is planned but
	// never run.
	Ran, Passed, Failed, Skipped, Todo, Missing int
}

// Counts of the result.
func (r Result) Counts() Counts {
	var c Counts
	for _, t := range r.Tests {
		c.Ran++
		switch {
		case t.Directive == "skip":
			c.Skipped++
		case t.Directive == "todo":
			c.Todo++
		case t.OK:
			c.Passed++
		default:
			c.Failed++
		}
	}
	if r.Planned > c.Ran {
		c.Missing = r.Planned - c.Ran
	}
	return c
}

// Problem says why the file failed beyond its failed tests (a bail out,
// a plan not kept), or "".
func (r Result) Problem() string {
	switch {
	case r.Bailed:
		return "bailed out: " + r.BailOut
	case r.Planned < 0 && len(r.Tests) == 0:
		return "no plan and no tests"
	case r.Planned < 0:
		return "no plan"
	case r.Planned != len(r.Tests):
		return "planned " + strconv.Itoa(r.Planned) + " tests but ran " + strconv.Itoa(len(r.Tests))
	}
	return ""
}

var (
	planLine = regexp.MustCompile(`^1\.\.(\d+)\s*(?:#\s*(?i:skip)\S*\s*(.*))?$`)
	testLine = regexp.MustCompile(`^(not )?ok\b\s*(\d+)?\s*(.*)$`)
	// A directive is "# SKIP reason" or "# TODO reason" at the end of
	// the description (an escaped "\#" is no directive).
	directive = regexp.MustCompile(`(?i)(?:^|[^\\])#\s*(skip\S*|todo\S*)\b\s*(.*)$`)
	bailLine  = regexp.MustCompile(`^Bail out!\s*(.*)$`)
)

// Parse reads a TAP stream. Lines that are not TAP (a program's own
// output mixed in) are ignored, as prove ignores them.
func Parse(r io.Reader) (Result, error) {
	res := Result{Planned: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	next := 1
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if m := planLine.FindStringSubmatch(line); m != nil {
			res.Planned, _ = strconv.Atoi(m[1])
			if res.Planned == 0 {
				res.SkipAll = strings.TrimSpace(m[2])
			}
			continue
		}
		if m := bailLine.FindStringSubmatch(line); m != nil {
			res.Bailed, res.BailOut = true, strings.TrimSpace(m[1])
			break
		}
		if strings.HasPrefix(line, "#") {
			if n := len(res.Tests); n > 0 && !res.Tests[n-1].OK {
				res.Tests[n-1].Diag = append(res.Tests[n-1].Diag, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
			}
			continue
		}
		m := testLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		t := Test{Number: next, OK: m[1] == ""}
		if m[2] != "" {
			t.Number, _ = strconv.Atoi(m[2])
		}
		desc := m[3]
		if d := directive.FindStringSubmatchIndex(desc); d != nil {
			word := strings.ToLower(desc[d[2]:d[3]])
			t.Directive = word[:4]
			t.Reason = strings.TrimSpace(desc[d[4]:d[5]])
			cut := d[0]
			if desc[cut] != '#' {
				cut++
			}
			desc = desc[:cut]
		}
		t.Desc = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(desc), "- "))
		res.Tests = append(res.Tests, t)
		next = t.Number + 1
	}
	return res, sc.Err()
}
