package modtest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modtest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// debianModules are Debian 12's own NDK and set-misc .so files, which
// load into its nginx 1.22.1 (scripts/debs).
func debianModules(t *testing.T) (nginx string, sos []string) {
	t.Helper()
	nginx = testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	mirror := testenv.Mirror(t, "libnginx-mod-http-set-misc_0.33.orig.tar.gz")
	for _, p := range []string{"libnginx-mod-http-ndk/usr/lib/nginx/modules/ndk_http_module.so",
		"libnginx-mod-http-set-misc/usr/lib/nginx/modules/ngx_http_set_misc_module.so",
		"libnginx-mod-http-echo/usr/lib/nginx/modules/ngx_http_echo_module.so"} {
		so := filepath.Join(mirror, "debs", "bookworm-amd64", p)
		if _, err := os.Stat(so); err != nil {
			testenv.Missing(t, so, "scripts/debs "+mirror)
		}
		sos = append(sos, so)
	}
	return nginx, sos
}

func suite(t *testing.T, test config.Test) modtest.Suite {
	t.Helper()
	mirror := testenv.Mirror(t, "libnginx-mod-http-set-misc_0.33.orig.tar.gz")
	return modtest.Suite{Module: "set-misc", Dir: celltest.Module(t, mirror, "libnginx-mod-http-set-misc_0.33.orig.tar.gz"), Test: test}
}

// TestRealSuiteOnDebiansNginx runs set-misc 0.33's own quote-sql.t and
// base32.t (Debian's source) against Debian 12's nginx with Debian's own
// NDK, set-misc and echo .so files. Block 8 of quote-sql.t needs the
// iconv module, which Debian's nginx lacks: nginx refuses the config, the
// file bails out, and the failure is that block, at its header's line in
// the module's file, named by nginx's words. With block 2 skipped (and
// the plan kept by no_plan) the rest of the file runs to its end.
func TestRealSuiteOnDebiansNginx(t *testing.T) {
	lib := testenv.TestNginx(t)
	nginx, sos := debianModules(t)
	opts := func() modtest.Options {
		return modtest.Options{Nginx: nginx, Modules: sos, WorkDir: t.TempDir(), PerlLib: []string{lib}, Env: os.Environ()}
	}

	s := suite(t, config.Test{Prove: "t/quote-sql.t", Required: true, Skip: []config.TestSkip{{File: "t/quote-sql.t", Block: 2, Reason: "to move the lines"}}})
	res, err := modtest.Run(context.Background(), s, opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.OK() {
		t.Fatalf("%+v", res)
	}
	f := res.Files[0]
	if !strings.HasPrefix(f.Problem, "bailed out: ") || len(f.Failures) != 1 {
		t.Fatalf("quote-sql.t: %+v", f)
	}
	bail := f.Failures[0]
	if bail.Block != 8 || bail.Line != 114 || bail.Desc != `TEST 8: set quote pgsql invalid utf8 value - nginx did not start: unknown directive "set_iconv"` {
		t.Errorf("the bail out: %+v", bail)
	}
	if len(res.Skips) != 1 || res.Skips[0].Reason != "to move the lines" || f.Ran == 0 || f.Failed != 0 {
		t.Errorf("skips %+v, ran %d, failed %d", res.Skips, f.Ran, f.Failed)
	}

	// Skipped too, the file passes; so does base32.t, and the counts are
	// prove's.
	s = suite(t, config.Test{Prove: "t", Required: true, Jobs: 2, Skip: []config.TestSkip{
		{File: "t/quote-sql.t", Block: 8, Reason: "needs the iconv module"}}})
	o := opts()
	files, err := filepathGlob(s.Dir, "t/quote-sql.t", "t/base32.t")
	if err != nil {
		t.Fatal(err)
	}
	s.Test.Prove = "t"
	// Only the two files: everything else in t/ skipped as files.
	for _, f := range files.others {
		s.Test.Skip = append(s.Test.Skip, config.TestSkip{File: f, Reason: "not this test's"})
	}
	res, err = modtest.Run(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Files) != 2 || res.Passed == 0 || res.Passed != res.Ran {
		t.Errorf("with block 8 skipped: %+v", summary(res))
	}
}

type globbed struct{ others []string }

// filepathGlob lists the .t files of dir's t/ other than keep.
func filepathGlob(dir string, keep ...string) (globbed, error) {
	all, err := filepath.Glob(filepath.Join(dir, "t", "*.t"))
	var g globbed
	for _, p := range all {
		rel, _ := filepath.Rel(dir, p)
		found := false
		for _, k := range keep {
			found = found || k == rel
		}
		if !found {
			g.others = append(g.others, rel)
		}
	}
	return g, err
}

func summary(t manifest.Tests) string {
	var b strings.Builder
	for _, f := range t.Files {
		b.WriteString(f.File + ": " + f.Problem + "\n")
		for _, x := range f.Failures {
			b.WriteString("  " + x.Desc + "\n")
		}
	}
	return b.String()
}

// TestStaleSkip: a skip naming a file or block the suite does not have
// is an error, not a silent no-op.
func TestStaleSkip(t *testing.T) {
	lib := testenv.TestNginx(t)
	nginx, sos := debianModules(t)
	for _, sk := range []config.TestSkip{{File: "t/gone.t", Reason: "x"}, {File: "t/quote-sql.t", Block: 99, Reason: "x"}} {
		s := suite(t, config.Test{Prove: "t", Required: true, Skip: []config.TestSkip{sk}})
		_, err := modtest.Run(context.Background(), s, modtest.Options{Nginx: nginx, Modules: sos, WorkDir: t.TempDir(), PerlLib: []string{lib}})
		if err == nil {
			t.Errorf("skip %+v accepted", sk)
		}
		t.Logf("%+v: %v", sk, err)
	}
}

// TestRunCommand: test.run gets the cell's nginx and modules in its
// environment; its exit status is the verdict.
func TestRunCommand(t *testing.T) {
	nginx, sos := debianModules(t)
	s := suite(t, config.Test{Run: `test -x "$NGINX_BINARY" && [ "$NGINX_MODULES" = "` + strings.Join(sos, " ") + `" ] && grep -q "^load_module .*ndk_http_module.so;$" "$NGINX_LOAD_MODULE" && echo "1..1" && echo "ok 1 - env"`, Required: true})
	res, err := modtest.Run(context.Background(), s, modtest.Options{Nginx: nginx, Modules: sos, WorkDir: t.TempDir(), Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil || !res.OK() || res.Passed != 1 {
		t.Errorf("%v %+v", err, res)
	}
	s.Test.Run = "echo not here; exit 3"
	res, _ = modtest.Run(context.Background(), s, modtest.Options{Nginx: nginx, Modules: sos, WorkDir: t.TempDir(), Env: []string{"PATH=" + os.Getenv("PATH")}})
	if res.OK() || !strings.Contains(res.Files[0].Problem, "exit status 3") || !strings.Contains(res.Files[0].Output, "not here") {
		t.Errorf("a failing command: %+v", res)
	}
}

// running reports whether a process whose command line holds marker is
// alive (not a zombie).
func running(marker string) []string {
	var out []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err != nil || !strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), marker) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join(filepath.Dir(c), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
			continue
		}
		out = append(out, c)
	}
	return out
}

// TestHungTestIsStopped is issue 30's item 12: a test that ignores
// SIGTERM and never ends is stopped at its suite's timeout (SIGTERM, then
// SIGKILL for its whole process group after the grace), and fails saying
// so; a daemon it left that ignores SIGTERM (in a session of its own) is
// killed too. Run returns and nothing the test started is left running.
func TestHungTestIsStopped(t *testing.T) {
	testenv.Tool(t, "perl", "perl")
	testenv.Tool(t, "setsid", "util-linux")
	for _, c := range []struct {
		what, run, marker, problem string
		timeout                    time.Duration
	}{
		{"a test ignoring SIGTERM", `trap '' TERM; sleep 997.25; echo never`, "sleep 997.25", "ran past its 2s timeout", 2 * time.Second},
		// The test ends (passing) once its daemon ignores SIGTERM.
		{"a daemon ignoring SIGTERM", `setsid sh -c "trap '' TERM; touch up; exec sleep 998.5" </dev/null >/dev/null 2>&1 &
			while [ ! -e up ]; do sleep 0.05; done; echo 1..1; echo ok 1`, "sleep 998.5", "", time.Minute},
	} {
		t.Run(c.what, func(t *testing.T) {
			s := modtest.Suite{Module: "m", Dir: t.TempDir(), Test: config.Test{Run: c.run, Required: true, Timeout: c.timeout}}
			done := make(chan manifest.Tests, 1)
			go func() {
				res, _ := modtest.Run(context.Background(), s, modtest.Options{Nginx: "/bin/true", WorkDir: t.TempDir(), Env: []string{"PATH=" + os.Getenv("PATH")}})
				done <- res
			}()
			var res manifest.Tests
			select {
			case res = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatalf("Run has not returned after 2 minutes; still running: %v", running(c.marker))
			}
			if c.problem != "" && (res.OK() || len(res.Files) != 1 || !strings.Contains(res.Files[0].Problem, c.problem)) {
				t.Errorf("the hung test: %+v", res)
			}
			if c.problem == "" && (!res.OK() || res.Passed != 1) {
				t.Errorf("the test that left a daemon: %+v", res)
			}
			if left := running(c.marker); len(left) > 0 {
				t.Errorf("still running after Run returned: %v", left)
			}
		})
	}
}

// TestEveryBailOutInOneRun is issue 33's fourth item: a file with two
// blocks nginx cannot start (one needs nginx's image_filter, one a
// third-party module's set_iconv) reports both in one run, each with the
// directive nginx named, counted as bail-outs, and the block after them
// still runs.
func TestEveryBailOutInOneRun(t *testing.T) {
	t.Parallel()
	lib := testenv.TestNginx(t)
	nginx, sos := debianModules(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "t"), 0o755)
	os.WriteFile(filepath.Join(dir, "t", "two.t"), []byte(`use Test::Nginx::Socket 'no_plan';
run_tests();

__DATA__

=== TEST 1: needs image_filter
--- config
    location = /a { image_filter test; }
--- request
GET /a
--- error_code: 200

=== TEST 2: needs iconv
--- config
    location = /b { set_iconv $a $b from=utf8 to=gbk; }
--- request
GET /b
--- error_code: 200

=== TEST 3: plain
--- config
    location = /c { return 200 "c"; }
--- request
GET /c
--- response_body chomp
c
`), 0o644)
	s := modtest.Suite{Module: "two", Dir: dir, Test: config.Test{Prove: "t", Required: true}}
	res, err := modtest.Run(context.Background(), s, modtest.Options{Nginx: nginx, Modules: sos, WorkDir: t.TempDir(), PerlLib: []string{lib}, Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 {
		t.Fatalf("%+v", res)
	}
	f := res.Files[0]
	got := map[int]string{}
	for _, x := range f.Failures {
		got[x.Block] = x.Directive
	}
	if f.BailOuts != 2 || got[1] != "image_filter" || got[2] != "set_iconv" || len(f.Failures) != 2 {
		t.Errorf("bail-outs %d, failures %+v", f.BailOuts, f.Failures)
	}
	if f.Passed == 0 || f.Failed != 0 || !strings.HasPrefix(f.Problem, "bailed out: ") || res.OK() {
		t.Errorf("TEST 3 after them: passed %d, failed %d, problem %q", f.Passed, f.Failed, f.Problem)
	}
}
