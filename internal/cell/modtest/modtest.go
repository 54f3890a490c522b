// Package modtest runs a module's own test suite against a cell's nginx
// and .so files: Test::Nginx files as prove runs them (one perl per
// file, TAP read back), or a command. What ran, passed, failed and was
// skipped comes back as manifest.Tests.
package modtest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modenv"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/tap"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/filetree"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/lines"
)

// Options is where a suite runs.
type Options struct {
	// Nginx is the cell's nginx binary; Modules its .so files in load
	// order.
	Nginx   string
	Modules []string
	// WorkDir is an empty directory for the suite's copy and servroots.
	WorkDir string
	// PerlLib are directories holding Test::Nginx (and its Perl
	// dependencies) when perl's own @INC lacks them.
	PerlLib []string
	// Env is the environment the tests start from; only what modenv
	// allows of it reaches them (a token given here is dropped).
	Env []string
	// Progress, when set, is told each file's result as it ends, one
	// file at a time (the files run in parallel).
	Progress func(file string, c tap.Counts, seconds float64)
}

// Suite is one module's tests.
type Suite struct {
	// Module names the module in results and errors (its one name);
	// Source is its source ID, as the config gives it; Dir is its
	// directory.
	Module, Source, Dir string
	Test                config.Test
}

// Run runs the suite. The error is for a suite that could not run at
// all (a missing file, no perl); test failures are in the result.
func Run(ctx context.Context, s Suite, o Options) (manifest.Tests, error) {
	start := time.Now()
	timeout := s.Test.Timeout
	if timeout <= 0 {
		timeout = config.DefaultTestTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("the suite ran past its %s timeout (test: timeout: in the config)", timeout))
	defer cancel()
	res := manifest.Tests{Module: s.Module, Source: s.Source, Required: s.Test.Required}
	copyDir := filepath.Join(o.WorkDir, "module")
	if err := filetree.Copy(s.Dir, copyDir, skipDir); err != nil {
		return res, fmt.Errorf("copy %s for its tests: %w", s.Dir, err)
	}
	var err error
	if s.Test.Run != "" {
		err = runCommand(ctx, s, o, copyDir, &res)
	} else {
		err = runProve(ctx, s, o, copyDir, &res)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, err
}

// runProve runs every .t file of s.Test.Prove: one at a time in the
// module's own layout (its copy's t/servroot, Test::Nginx's port 1984)
// as prove runs them, or test.jobs at a time, each on a random port in a
// servroot of its own.
func runProve(ctx context.Context, s Suite, o Options, dir string, res *manifest.Tests) error {
	files, err := testFiles(dir, s.Test.Prove)
	if err != nil {
		return fmt.Errorf("%s: test prove %s: %w", s.Module, s.Test.Prove, err)
	}
	files, err = applySkips(dir, files, s.Test.Skip, res)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Module, err)
	}
	perl, err := exec.LookPath("perl")
	if err != nil {
		return fmt.Errorf("%s: its Test::Nginx suite needs perl: %w", s.Module, err)
	}
	jobs := max(s.Test.Jobs, 1)
	if jobs == 1 {
		unlock, err := lockPort(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Module, err)
		}
		defer unlock()
	}
	results := make([]manifest.TestFile, len(files))
	var g errgroup.Group
	g.SetLimit(jobs)
	var progress sync.Mutex
	for i, f := range files {
		g.Go(func() error {
			results[i] = runAll(ctx, perl, dir, s.Dir, f, i, jobs > 1, o)
			if o.Progress != nil {
				progress.Lock()
				defer progress.Unlock()
				r := results[i]
				o.Progress(f, tap.Counts{Ran: r.Ran, Passed: r.Passed, Failed: r.Failed, Skipped: r.Skipped}, r.Seconds)
			}
			return nil
		})
	}
	g.Wait() // runFile records its failures in its result
	for _, r := range results {
		res.Files = append(res.Files, r)
		res.Ran += r.Ran
		res.Passed += r.Passed
		res.Failed += r.Failed
		res.Skipped += r.Skipped
		res.Todo += r.Todo
		if r.Failed > 0 || r.Problem != "" {
			res.FailedFiles++
		}
	}
	return nil
}

// testFiles lists the .t files under rel (a directory, recursively, as
// prove -r) or rel itself, relative to dir, sorted.
func testFiles(dir, rel string) ([]string, error) {
	root := filepath.Join(dir, rel)
	fi, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{rel}, nil
	}
	var out []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "servroot" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".t") {
			r, _ := filepath.Rel(dir, p)
			out = append(out, r)
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("no .t files in %s", rel)
	}
	slices.Sort(out)
	return out, err
}

var (
	blockHeader = regexp.MustCompile(`(?m)^=== (TEST (\d+)\b.*?)\s*$`)
	// planTests is a Test::Nginx file's fixed plan: "plan tests =>
	// repeat_each() * (blocks() * 3 + 2);", up to its semicolon.
	planTests = regexp.MustCompile(`(?ms)^(\s*)plan\s+tests\s*=>.*?;`)
)

// applySkips drops skipped files from the run and marks skipped blocks
// with Test::Base's "--- SKIP" section in the suite's copy. A file's plan
// counts its blocks' tests by its author's arithmetic (blocks() * 3 + 2),
// which a block left out no longer keeps: a file with a skipped block
// runs with no_plan, and TAP's closing plan is what ran. A skip naming a
// file or block that does not exist is an error: a stale skip hides
// nothing.
func applySkips(dir string, files []string, skips []config.TestSkip, res *manifest.Tests) ([]string, error) {
	for _, sk := range skips {
		if !slices.Contains(files, sk.File) {
			return nil, fmt.Errorf("test skip %q: no such test file in the suite", sk.File)
		}
		res.Skips = append(res.Skips, manifest.TestSkip{File: sk.File, Block: sk.Block, Reason: sk.Reason})
		if sk.Block == 0 {
			files = slices.DeleteFunc(files, func(f string) bool { return f == sk.File })
			continue
		}
		if err := skipBlock(filepath.Join(dir, sk.File), sk.Block); err != nil {
			return nil, fmt.Errorf("test skip \"%s TEST %d\": %w", sk.File, sk.Block, err)
		}
	}
	return files, nil
}

// skipBlock marks block n of the .t file at p with "--- SKIP", and runs
// the file with no_plan (its author's arithmetic counts every block).
func skipBlock(p string, n int) error {
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	done := false
	for _, m := range blockHeader.FindAllSubmatchIndex(data, -1) {
		if k, _ := strconv.Atoi(string(data[m[4]:m[5]])); k == n {
			end := m[1]
			data = slices.Concat(data[:end], []byte("\n--- SKIP"), data[end:])
			done = true
			break
		}
	}
	if !done {
		return fmt.Errorf("%s has no block === TEST %d", filepath.Base(p), n)
	}
	data = planTests.ReplaceAll(data, []byte("${1}plan 'no_plan';"))
	return os.WriteFile(p, data, 0o644)
}

// maxBailReruns bounds the runs of one file skipping the blocks nginx
// could not start in.
const maxBailReruns = 50

// runAll runs one .t file, and again with each block skipped in which
// nginx could not start (Test::Nginx bails out there, and the blocks
// after it never run): one run reports every such block, whatever order
// the shuffled blocks ran in. The result is the last run's, with every
// bailed block among its failures and the file failed.
func runAll(ctx context.Context, perl, dir, orig, file string, i int, random bool, o Options) manifest.TestFile {
	var bailed []manifest.TestFailure
	for {
		tf := runFile(ctx, perl, dir, orig, file, i, random, o)
		b, ok := startFailure(tf)
		if ok && len(bailed) < maxBailReruns && ctx.Err() == nil && skipBlock(filepath.Join(dir, file), b.Block) == nil {
			bailed = append(bailed, b)
			continue
		}
		if len(bailed) == 0 {
			if ok {
				tf.BailOuts = 1
			}
			return tf
		}
		tf.Failures = append(bailed, tf.Failures...)
		tf.BailOuts = len(bailed)
		if ok {
			tf.BailOuts++
		}
		var blocks []string
		for _, f := range bailed {
			blocks = append(blocks, "TEST "+strconv.Itoa(f.Block))
		}
		if tf.Problem == "" {
			tf.Problem = fmt.Sprintf("bailed out: nginx did not start in %s; the rest ran with them skipped", strings.Join(blocks, ", "))
		}
		return tf
	}
}

// startFailure is a file's bail out in a block nginx did not start in.
func startFailure(tf manifest.TestFile) (manifest.TestFailure, bool) {
	for _, f := range tf.Failures {
		if f.Number == 0 && f.Block > 0 && strings.Contains(f.Desc, " - nginx did not start") {
			return f, true
		}
	}
	return manifest.TestFailure{}, false
}

// runFile runs one .t file as prove would (perl FILE in the module's
// directory, HARNESS_ACTIVE set) under a reaper, and reads its TAP. dir is
// the suite's copy, orig the module's own directory: failures are placed
// at their block's line in the module's file, which a skip's "--- SKIP"
// line in the copy does not move.
func runFile(ctx context.Context, perl, dir, orig, file string, i int, random bool, o Options) manifest.TestFile {
	start := time.Now()
	env := append(modenv.Filter(o.Env),
		"TEST_NGINX_BINARY="+o.Nginx,
		"TEST_NGINX_LOAD_MODULES="+strings.Join(o.Modules, " "),
		"HARNESS_ACTIVE=1", "HARNESS_VERSION=3.44")
	// One at a time, a file finds the servroot where prove's would be
	// (t/servroot of the copy; files read their logs there).
	servroot := filepath.Join(dir, "t", "servroot")
	if random {
		servroot = filepath.Join(o.WorkDir, "servroot", strconv.Itoa(i))
		// Test::Nginx makes a servroot with mkdir, not mkdir -p: its
		// parent must be there.
		os.MkdirAll(filepath.Dir(servroot), 0o755)
		env = append(env, "TEST_NGINX_SERVROOT="+servroot, "TEST_NGINX_RANDOMIZE=1")
	}
	var args []string
	for _, l := range o.PerlLib {
		args = append(args, "-I"+l)
	}
	cmd := Reaped(ctx, perl, append(append([]string{perl}, args...), file)...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // one stream, in order: diagnostics follow their test
	runErr := cmd.Run()
	os.RemoveAll(servroot)
	r, _ := tap.Parse(bytes.NewReader(out.Bytes()))
	tf := manifest.TestFile{File: file, Planned: r.Planned, Seconds: time.Since(start).Seconds()}
	c := r.Counts()
	tf.Ran, tf.Passed, tf.Failed, tf.Skipped, tf.Todo = c.Ran, c.Passed, c.Failed, c.Skipped, c.Todo
	tf.Problem = r.Problem()
	if tf.Problem == "" && runErr != nil {
		tf.Problem = "exited: " + runErr.Error()
	}
	if ctx.Err() != nil {
		tf.Problem = "stopped: " + context.Cause(ctx).Error()
	}
	if tf.Problem != "" && r.Planned == 0 && r.SkipAll != "" {
		tf.Problem = ""
	}
	if tf.Problem != "" && !r.Bailed {
		tf.Output = lines.Last(out.String(), 20)
	}
	blocks := blockLines(filepath.Join(orig, file))
	for _, t := range r.Tests {
		if !t.Failed() {
			continue
		}
		f := manifest.TestFailure{Number: t.Number, Desc: t.Desc, Diag: strings.Join(t.Diag, "\n")}
		f.Block, f.Name, f.Line = blocks.find(file, t.Desc)
		tf.Failures = append(tf.Failures, f)
	}
	if r.Bailed {
		tf.Failures = append(tf.Failures, bailFailure(file, r.BailOut, blocks, out.String()))
	}
	return tf
}

// bailFailure is a bail out as a failure of the block that caused it.
// When nginx could not start, the description says so with nginx's
// [emerg] line (an unknown directive: a module the block needs), not
// Test::Nginx's command line.
func bailFailure(file, reason string, blocks blockIndex, out string) manifest.TestFailure {
	f := manifest.TestFailure{Desc: "Bail out! " + reason}
	f.Block, f.Name, f.Line = blocks.find(file, reason)
	emerg := ""
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "[emerg]"); i >= 0 {
			emerg = strings.TrimSpace(l[i+len("[emerg]"):])
			if j := strings.LastIndex(emerg, " in /"); j > 0 {
				emerg = emerg[:j]
			}
			break
		}
	}
	if before, _, ok := strings.Cut(reason, " - Cannot start nginx"); ok {
		f.Desc = strings.TrimPrefix(before, file+" ") + " - nginx did not start"
		if emerg != "" {
			f.Desc += ": " + emerg
		}
		f.Diag = reason
	}
	if m := unknownDirective.FindStringSubmatch(emerg); m != nil {
		f.Directive = m[1]
	}
	return f
}

// unknownDirective is nginx's word for a directive no module loaded
// has.
var unknownDirective = regexp.MustCompile(`^unknown directive "([^"]+)"`)

// blockIndex is a .t file's "=== TEST N: name" headers and their lines.
type blockIndex []struct {
	name  string
	num   int
	line  int
	exact string
}

func blockLines(path string) blockIndex {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out blockIndex
	for i, l := range strings.Split(string(data), "\n") {
		if m := blockHeader.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			out = append(out, struct {
				name  string
				num   int
				line  int
				exact string
			}{m[1], n, i + 1, strings.TrimSpace(m[1])})
		}
	}
	return out
}

// find the block a test description names: Test::Nginx describes a test
// as "[FILE ]TEST N: name - what was checked". The longest header that
// prefixes it wins (block names may contain " - ").
func (b blockIndex) find(file, desc string) (num int, name string, line int) {
	desc = strings.TrimPrefix(strings.TrimSpace(desc), file+" ")
	best := -1
	for i, h := range b {
		if (desc == h.exact || strings.HasPrefix(desc, h.exact+" ")) && (best < 0 || len(h.exact) > len(b[best].exact)) {
			best = i
		}
	}
	if best < 0 {
		return 0, "", 0
	}
	return b[best].num, b[best].exact, b[best].line
}

// reaperScript makes perl a child subreaper (prctl PR_SET_CHILD_SUBREAPER)
// that runs the command, then reaps every orphan until none is left, and
// exits with the command's status. Test::Nginx starts nginx as a daemon
// and waits for its pid to vanish (kill 0) after stopping it: where PID 1
// reaps no orphans (a container, a sandbox), each stop waits out its
// timeout as a zombie lingers, 7 times slower here. Leftover processes
// (a daemonized nginx has left the process group) are sent SIGTERM when
// the command ends, and SIGKILL after the grace if they are still there;
// a SIGTERM to perl itself (the suite's timeout, a cancelled build) goes
// to the command the same way. Nothing it started outlives it.
const reaperScript = `
my ($nr, $grace, @cmd) = @ARGV;
syscall($nr, 36, 1, 0, 0, 0) if $nr;
my $pid = fork() // die "fork: $!";
if (!$pid) { setpgrp(0, 0); exec(@cmd) or die "exec $cmd[0]: $!\n" }
sub children {
    my @kids;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open(my $fh, "<", $stat) or next;
        my $l = <$fh> // "";
        $l =~ s/^.*\) //s;  # past "(comm)", which may hold spaces
        my @f = split / /, $l;
        push @kids, ($stat =~ m{/proc/(\d+)/})[0] if @f > 1 && $f[1] == $$;
    }
    return @kids;
}
sub killall { kill "KILL", -$pid; kill "KILL", children() }
$SIG{ALRM} = \&killall;
$SIG{TERM} = sub { kill "TERM", -$pid, $pid; alarm($grace) };
my $st = 0;
while (1) {
    my $p = waitpid(-1, 0);
    if ($p == -1) { last if $!{ECHILD}; next }  # EINTR: a signal came
    if ($p == $pid) {
        $st = $?;
        my @left = children();
        kill "TERM", @left;
        alarm($grace) if @left;
    }
}
exit($st & 127 ? 128 + ($st & 127) : $st >> 8);
`

// prctlSyscall is prctl's system call number, by GOARCH; 0 runs the
// command without the reaper.
var prctlSyscall = map[string]int{"amd64": 157, "arm64": 167, "386": 172, "arm": 172, "ppc64le": 171, "s390x": 172, "riscv64": 167}

// Grace is how long a test process (and what it left running) has
// between SIGTERM and SIGKILL.
const Grace = 5 * time.Second

// skipDir leaves servroot directories (a former run's) and hidden ones
// (.git, a cache directory of the module's repository) out of a module's
// copy.
func skipDir(d fs.DirEntry) bool { return d.Name() == "servroot" || strings.HasPrefix(d.Name(), ".") }

// Reaped is command run under perl as a child subreaper (reaperScript):
// how a test suite, or a hand-run prove, should run Test::Nginx here.
// The command runs in a process group of its own; when ctx ends, perl
// is sent SIGTERM (it stops the command, then kills what is left after
// Grace), and Go kills perl and the group Grace later if it is still
// there.
func Reaped(ctx context.Context, perl string, command ...string) *exec.Cmd {
	argv := append([]string{"-e", reaperScript, strconv.Itoa(prctlSyscall[runtime.GOARCH]), strconv.Itoa(int(Grace / time.Second))}, command...)
	cmd := exec.CommandContext(ctx, perl, argv...)
	stopGroup(cmd)
	return cmd
}

// stopGroup puts cmd in a process group of its own, stopped by SIGTERM
// when its context ends and killed, the whole group, if it is not gone
// Grace later.
func stopGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		p := cmd.Process
		err := p.Signal(syscall.SIGTERM)
		go func() {
			time.Sleep(2 * Grace)
			syscall.Kill(-p.Pid, syscall.SIGKILL) // a no-op (ESRCH) once the group is gone
		}()
		return err
	}
	cmd.WaitDelay = 2*Grace + time.Second
}

// runCommand runs test.run in the module's copy with the cell's nginx.
func runCommand(ctx context.Context, s Suite, o Options, dir string, res *manifest.Tests) error {
	load := filepath.Join(o.WorkDir, "load_module.conf")
	var loads strings.Builder
	for _, m := range o.Modules {
		fmt.Fprintf(&loads, "load_module %s;\n", m)
	}
	if err := os.WriteFile(load, []byte(loads.String()), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", s.Test.Run)
	stopGroup(cmd)
	if perl, err := exec.LookPath("perl"); err == nil {
		cmd = Reaped(ctx, perl, "/bin/sh", "-c", s.Test.Run)
	}
	cmd.Dir = dir
	cmd.Env = append(modenv.Filter(o.Env), "NGINX_BINARY="+o.Nginx, "NGINX_MODULES="+strings.Join(o.Modules, " "), "NGINX_LOAD_MODULE="+load)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	tf := manifest.TestFile{File: s.Test.Run, Planned: -1}
	r, _ := tap.Parse(bytes.NewReader(out.Bytes()))
	if len(r.Tests) > 0 {
		c := r.Counts()
		tf.Planned, tf.Ran, tf.Passed, tf.Failed, tf.Skipped, tf.Todo = r.Planned, c.Ran, c.Passed, c.Failed, c.Skipped, c.Todo
	}
	if err != nil {
		tf.Problem = "exited: " + err.Error()
		tf.Output = lines.Last(out.String(), 20)
	}
	if ctx.Err() != nil {
		tf.Problem = "stopped: " + context.Cause(ctx).Error()
	}
	res.Files = append(res.Files, tf)
	res.Ran, res.Passed, res.Failed, res.Skipped, res.Todo = tf.Ran, tf.Passed, tf.Failed, tf.Skipped, tf.Todo
	if err != nil || tf.Failed > 0 {
		res.FailedFiles = 1
	}
	return nil
}
