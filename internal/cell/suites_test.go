package cell

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modtest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// suiteModules unpacks the modules of testdata/suites.yml from Debian's
// orig tarballs under one root and reads the config there: the modules
// and the configure arguments.
func suiteModules(t *testing.T, mirror string) ([]Module, []string) {
	t.Helper()
	root := t.TempDir()
	for name, tarball := range map[string]string{
		"ndk": "libnginx-mod-http-ndk_0.3.4.orig.tar.gz", "set-misc": "libnginx-mod-http-set-misc_0.33.orig.tar.gz",
		"echo": "libnginx-mod-http-echo_0.63.orig.tar.gz", "headers-more": "libnginx-mod-http-headers-more-filter_0.34.orig.tar.gz",
	} {
		f, err := os.Open(filepath.Join(mirror, tarball))
		if err != nil {
			t.Fatal(err)
		}
		dir, err := source.Extract(f, filepath.Join(root, ".unpack-"+name))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dir, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join("testdata", "suites.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("testdata/suites.yml", root, data)
	if err != nil {
		t.Fatal(err)
	}
	var mods []Module
	for _, m := range cfg.Modules {
		mods = append(mods, Module{ID: m.Path, Dir: filepath.Join(root, m.Path), Requires: m.Requires, Test: m.Test})
	}
	return mods, cfg.Configure
}

// proveSummary is what a hand-run prove says at its end.
type proveSummary struct {
	files, tests, failed int
	pass                 bool
}

var (
	proveTotals = regexp.MustCompile(`(?m)^Files=(\d+), Tests=(\d+),`)
	proveFailed = regexp.MustCompile(`(?m)^\S+\.t\s+\(Wstat: \d+.*?Tests: \d+ Failed: (\d+)\)`)
)

// handProve runs prove by hand in a suite's directory on the files the
// tool ran, with the same nginx and .so files, and reads its summary:
// prove -jN with TEST_NGINX_RANDOMIZE for jobs > 1, plain prove for 1.
func handProve(t *testing.T, dir, lib, nginx string, sos, files []string, jobs int) (proveSummary, string) {
	t.Helper()
	prove := testenv.Tool(t, "prove", "perl")
	args := []string{prove, "-I" + lib}
	env := append(os.Environ(), "TEST_NGINX_BINARY="+nginx, "TEST_NGINX_LOAD_MODULES="+strings.Join(sos, " "))
	if jobs > 1 {
		args = append(args, "-j"+strconv.Itoa(jobs))
		env = append(env, "TEST_NGINX_RANDOMIZE=1")
	}
	cmd := modtest.Reaped(context.Background(), testenv.Tool(t, "perl", "perl"), append(args, files...)...)
	cmd.Dir, cmd.Env = dir, env
	out, _ := cmd.CombinedOutput()
	m := proveTotals.FindSubmatch(out)
	if m == nil {
		t.Fatalf("prove printed no summary:\n%s", testenv.Tail(string(out), 40))
	}
	var s proveSummary
	s.files, _ = strconv.Atoi(string(m[1]))
	s.tests, _ = strconv.Atoi(string(m[2]))
	for _, f := range proveFailed.FindAllSubmatch(out, -1) {
		n, _ := strconv.Atoi(string(f[1]))
		s.failed += n
	}
	s.pass = bytes.Contains(out, []byte("\nResult: PASS"))
	return s, string(out)
}

// TestModuleSuitesMatchProve is issue 25's first acceptance: the
// Test::Nginx suites of set-misc (with NDK), echo and headers-more from
// Debian's sources run in cells for nginx 1.22.1 and 1.26.3, and the
// counts the tool records (files, tests, failed, pass or not) equal a
// hand-run prove's with the same nginx binary and .so files on the same
// files; the config's skips are in the cell manifest with their reasons.
func TestModuleSuitesMatchProve(t *testing.T) {
	mirror := prerequisites(t)
	lib := testenv.TestNginx(t)
	testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	for _, v := range []string{"1.22.1", "1.26.3"} {
		t.Run(v, func(t *testing.T) {
			mods, configure := suiteModules(t, mirror)
			work := t.TempDir()
			res, err := Run(context.Background(), Options{Nginx: v, Distro: "debian-12", Arch: "amd64", Modules: mods, Configure: configure,
				Source: celltest.Source(t, mirror), WorkDir: work, Out: t.TempDir(), Jobs: 4, Compiler: celltest.Compiler(t),
				Smoke: &Smoke{}, Tests: &Tests{PerlLib: []string{lib}, Env: os.Environ()}, Log: &Log{W: testWriter{t}}})
			if len(res.Manifest.Cells) != 1 {
				t.Fatalf("no cell: %v", err)
			}
			cell := res.Manifest.Cells[0]
			if len(cell.Tests) != 3 {
				t.Fatalf("%d suites ran, want 3: %v", len(cell.Tests), err)
			}
			for i, suite := range cell.Tests {
				checkSuite(t, suite, mods[i+1], filepath.Join(work, "test", strconv.Itoa(i+1), "module"), lib, res)
			}
		})
	}
}

// checkSuite compares one suite's recorded result with prove's.
func checkSuite(t *testing.T, suite manifest.Tests, m Module, dir, lib string, res Result) {
	t.Helper()
	var files []string
	failedFiles := 0
	for _, f := range suite.Files {
		files = append(files, f.File)
		if f.Failed > 0 || f.Problem != "" {
			failedFiles++
		}
	}
	got, out := handProve(t, dir, lib, res.Nginx, res.Files, files, m.Test.Jobs)
	t.Logf("%s: tool ran %d tests in %d files (%d passed, %d failed, %d skipped) in %.0f s; prove: %+v",
		suite.Module, suite.Ran, len(files), suite.Passed, suite.Failed, suite.Skipped, suite.Seconds, got)
	if got.files != len(files) || got.tests != suite.Ran || got.failed != suite.Failed || got.pass != (failedFiles == 0) {
		t.Errorf("%s: the tool says %d files, %d tests, %d failed, %d files failed; prove says %+v:\n%s",
			suite.Module, len(files), suite.Ran, suite.Failed, failedFiles, got, testenv.Tail(out, 30))
	}
	if len(suite.Skips) != len(m.Test.Skip) {
		t.Errorf("%s: %d skips recorded, %d declared", suite.Module, len(suite.Skips), len(m.Test.Skip))
	}
	for i, sk := range suite.Skips {
		if d := m.Test.Skip[i]; sk.File != d.File || sk.Block != d.Block || sk.Reason != d.Reason || sk.Reason == "" {
			t.Errorf("%s: skip %+v, declared %+v", suite.Module, sk, d)
		}
	}
}
