// Package compile compiles nginx dynamic modules against an exact nginx
// version, the way NGINX's upgrade guide does by hand (configure
// --with-compat --add-dynamic-module, make modules), verified, in one
// configure for all modules, with every module's result reported.
package compile

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/filetree"
	"github.com/nginx-modbuild/nginx-modbuild/internal/lines"
	"github.com/nginx-modbuild/nginx-modbuild/internal/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/modconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/modenv"
	"github.com/nginx-modbuild/nginx-modbuild/internal/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/sysdeps"
)

// Module is a module source ready to build.
type Module struct {
	// ID names the source as the config does (path or git URL).
	ID string
	// Dir is the absolute directory holding its config file.
	Dir string
	// Commit is the source commit, when known.
	Commit string
	// Identity names the module content (modsrc.Identity).
	Identity string
	// Env is set for its config when configure runs it (LUAJIT_INC).
	Env map[string]string
	// Libs are extra link arguments for its .so files (-lpcre).
	Libs []string
	// Packages are distribution packages it needs, by package family.
	Packages map[distro.Family][]string
	// Requires are IDs of other modules whose configs must run first.
	Requires []string
	// Test is the module's own test suite, run with Options.Tests.
	Test *config.Test
	// NoRelease builds it for the checks and tests only: its .so files
	// are not written to Out (config release: false).
	NoRelease bool
}

// Tests configures running the modules' own test suites (build --test).
type Tests struct {
	// PerlLib are directories with Test::Nginx (and its dependencies)
	// when perl's own @INC lacks them.
	PerlLib []string
	// Env is the environment the suites start from.
	Env []string
}

// Smoke configures the smoke test; Config and Request may be empty (then
// only `nginx -t` runs).
type Smoke struct {
	Config, Request string
}

// Options describe one build cell.
type Options struct {
	Nginx, Distro, Arch string
	Plus                []string
	Modules             []Module
	Configure           []string
	// NoCompat leaves out --with-compat: the modules then load only into
	// an nginx configured with exactly the same arguments.
	NoCompat bool
	Source   source.Options
	// WorkDir is an empty scratch directory; Out receives the .so files
	// and the cell manifest.
	WorkDir, Out string
	Jobs         int
	// Smoke, when not nil, builds the nginx binary too (in the same make
	// run as the modules) and proves the modules load (and answer
	// Smoke.Request).
	Smoke *Smoke
	// Tests, when set (needs Smoke: the tests run against the nginx
	// built with the modules), runs each Module.Test after the smoke
	// test, with every .so that loads; nginx's modules the suites need
	// are configured in.
	Tests *Tests
	// Compiler is the build machine's C compiler (machine.Compiler, asked
	// after its build dependencies are installed): recorded in the cell
	// manifest, part of the smoke cache's key, and its loader's symbols
	// are available to every module.
	Compiler machine.Compiler
	// Incremental is a directory keeping each cell's configured and built
	// tree (pull-request checks): a cell whose configure inputs are the
	// same as a kept tree's skips configure and lets make rebuild what
	// changed; "" builds every cell from clean in WorkDir.
	Incremental string
	// PackageState names the state of the build machine's installed
	// packages (machine.PackageState), part of Incremental's key: asked
	// after the cell's dependencies are installed.
	PackageState func() string
	// SmokeCache is a directory keeping smoke nginx binaries by what
	// they are built from (see smokeKey): a cell whose key is there
	// builds only the modules. "" builds the binary every time.
	SmokeCache string
	// Target is the distro's own nginx binary (build --target-nginx): the
	// .so files are checked against its symbols and libraries and, with
	// the smoke test, loaded into it too, nothing else enabled. A cell
	// for a distro's own nginx version is proven by that nginx.
	Target string
	// TargetJudges makes Target the judge (build --like): no nginx is
	// compiled; the .so files' symbols resolve against the target and
	// its libraries, and the smoke test and the module tests run in it.
	TargetJudges bool
	// Tree, when set, is the nginx source tree the target binary was built
	// from, as its distro ships it for building modules (Debian's
	// nginx-dev: /usr/share/nginx/src, patches applied): the cell builds
	// a copy of it instead of a tarball. TreeWhat names it in the log and
	// the cell manifest.
	Tree, TreeWhat string
	// TargetSHA256 is the SHA-256 of the binary the cell builds like:
	// each entry records it (manifest.Entry.Target).
	TargetSHA256 string
	// ABI is the virtual package the target nginx provides to modules
	// built from Tree (Debian's nginx:abi in the tree's
	// debian/libnginx-mod.abisubstvars, nginx-abi-1.22.1-7): recorded in
	// the cell manifest, what the cell's .deb packages depend on.
	ABI string
	// Signature, when set, is the target nginx's module signature (build
	// --like): every .so must carry exactly it (nginx refuses any other
	// as "not binary compatible"), else its module fails in phase
	// signature, each differing flag named with what fixes it.
	Signature string
	// LogURL links this build's log (the GitHub Actions run) in every
	// failure recorded.
	LogURL string
	// Family is the build host's package family, for naming the package
	// of a library a module's configure probe did not find.
	Family distro.Family
	// Packages, when set (build --install-deps), is the build host's
	// package manager: the libraries the modules' configs probe for and
	// the packages they declare are looked up in its index and installed
	// before configure, and again when a probe still fails.
	Packages PackageManager
	Log      *Log
	Now      func() time.Time
}

// PackageManager installs distribution packages on the build host
// (sysdeps.Installer).
type PackageManager interface {
	// Resolve returns the first of candidates that is installed or that
	// the package index has; the error says what was searched.
	Resolve(ctx context.Context, candidates []string) (string, error)
	Install(ctx context.Context, pkgs []string) error
}

// Result is what a cell produced.
type Result struct {
	Manifest    manifest.Manifest
	Diagnostics []Diagnostic
	// Files are the built .so paths, in load order.
	Files []string
	// Converted names the .so files declared for old-style configs (for
	// which nginx alone would build none).
	Converted []string
	// Nginx is the nginx binary the modules' tests ran against.
	Nginx string
}

// ModulesFailed reports modules that did not build; the others did.
type ModulesFailed struct {
	Failures []manifest.Failure
}

func (e *ModulesFailed) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d module(s) failed to build:", len(e.Failures))
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %s (%s, %s): %s", f.Module, f.Source, f.Phase, strings.ReplaceAll(f.Error, "\n", "\n    "))
	}
	return b.String()
}

// prepared is a requested module with what its config files hint.
type prepared struct {
	Module
	index int // position in Options.Modules
	hints *modconf.Hints
}

type cell struct {
	o Options
	// tree holds the nginx source, the build directories, the wrappers
	// and their records: WorkDir, or a directory of Incremental.
	tree string
	// stage is the phase running now.
	stage     manifest.Phase
	c         manifest.Cell
	failed    []manifest.Failure
	entries   []manifest.Entry
	files     []string
	installed map[string]bool
	converted []string
	// testPackagesErr are, by module ID, why its tests' packages did not
	// install.
	testPackagesErr map[string]error
	// unresolved are, by module directory, the libraries its config
	// hints at that no package in the index provides (said again if its
	// configure fails).
	unresolved map[string][]string
}

// Run builds one cell. A module that fails is reported in a
// *ModulesFailed error while every other module's .so is still produced,
// and the cell manifest is written either way; any other error means the
// cell as a whole failed.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Compiler.Version == "" {
		return Result{}, errors.New("compile: Options.Compiler is not set (ask machine.Compiler after installing the build dependencies)")
	}
	b := &cell{o: o, tree: o.WorkDir, c: manifest.Cell{Nginx: o.Nginx, Plus: o.Plus, Distro: o.Distro, Arch: o.Arch, Seconds: map[string]float64{},
		Incremental: o.Incremental != "", ABI: o.ABI},
		installed: map[string]bool{}, unresolved: map[string][]string{}}
	res, err := b.run(ctx)
	if ctx.Err() != nil {
		return Result{}, b.interrupted(ctx)
	}
	if err != nil {
		// The cell as a whole failed: every module failed with it, and the
		// cell manifest says so (a download that failed is transient).
		why := err.Error()
		for _, m := range o.Modules {
			b.fail(m, "", b.stage, why)
		}
		if errors.Is(err, source.ErrUnverified) || errors.Is(err, source.ErrMismatch) {
			// Not the network: the same bytes fail the same way again.
			for i := range b.failed {
				b.failed[i].Transient = false
			}
		}
		b.c.Failures = b.failed
		res.Manifest = manifest.Manifest{Schema: manifest.Schema, Cells: []manifest.Cell{b.c}}
		os.MkdirAll(o.Out, 0o755)
		if werr := writeJSON(filepath.Join(o.Out, manifest.CellFileName(o.Nginx, o.Distro, o.Arch)), res.Manifest); werr != nil {
			o.Log.Printf("write the cell manifest: %v", werr)
		}
		return res, err
	}
	if len(b.failed) > 0 {
		return res, &ModulesFailed{Failures: b.failed}
	}
	return res, nil
}

// judgedByTarget reports whether the target binary judges the cell
// (Options.TargetJudges): no nginx of its own is compiled.
func (b *cell) judgedByTarget() bool { return b.o.Target != "" && b.o.TargetJudges }

// treeSource stands for a source tree where a tarball would be: its
// digest is of its files (the cell manifest's source_sha256, the
// incremental key's source), its verification what it is.
func treeSource(dir, what, version string) (source.Tarball, error) {
	if _, err := os.Stat(filepath.Join(dir, "src", "core", "nginx.h")); err != nil {
		return source.Tarball{}, fmt.Errorf("%s (%s) is not an nginx source tree: %w", dir, what, err)
	}
	sums, err := treeSums(dir)
	if err != nil {
		return source.Tarball{}, fmt.Errorf("read the source tree %s: %w", dir, err)
	}
	sum := sha256.Sum256([]byte(sums))
	return source.Tarball{Version: version, SHA256: hex.EncodeToString(sum[:]), Verified: what + " (" + dir + ")"}, nil
}

// configureAtTop gives a checkout (no ./configure, as nginx's and the
// forks' repositories are) the ./configure a release tarball has: its
// auto/configure, as nginx's release makefile copies it up.
func configureAtTop(root string) error {
	if _, err := os.Stat(filepath.Join(root, "configure")); err == nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(root, "auto", "configure"))
	if err != nil {
		return nil // configure says what is missing
	}
	return os.WriteFile(filepath.Join(root, "configure"), b, 0o755)
}

// ErrInterrupted is a cell stopped before it ended (Ctrl-C, SIGTERM, a
// cancelled job): what failed then failed because it was stopped.
var ErrInterrupted = errors.New("interrupted")

// interrupted ends a cell whose context was cancelled: nothing of it is
// recorded (no cell manifest, none of its files), so a later plan builds
// it again rather than reading the kill as a compile failure.
func (b *cell) interrupted(ctx context.Context) error {
	for _, f := range b.files {
		os.Remove(f)
	}
	os.Remove(filepath.Join(b.o.Out, manifest.CellFileName(b.o.Nginx, b.o.Distro, b.o.Arch)))
	b.o.Log.Printf("nginx %s cell: interrupted (%v); nothing recorded for it", b.o.Nginx, context.Cause(ctx))
	return fmt.Errorf("nginx %s cell: %w (%w): nothing was recorded for it; build it again", b.o.Nginx, ErrInterrupted, context.Cause(ctx))
}

// step is one timed part of a cell: the key of its seconds in the cell
// manifest, and the phase a failure of the whole cell during it is.
type step struct {
	key   string
	phase manifest.Phase
}

var (
	fetchStep     = step{"fetch", manifest.PhaseFetch}
	extractStep   = step{"extract", manifest.PhaseFetch}
	readStep      = step{"read", manifest.PhaseConfigure}
	depsStep      = step{"deps", manifest.PhaseDeps}
	configureStep = step{"configure", manifest.PhaseConfigure}
	makeStep      = step{"make", manifest.PhaseCompile}
	collectStep   = step{"collect", manifest.PhaseCompile}
	checkStep     = step{"check", manifest.PhaseSymbols}
	smokeStep     = step{"smoke", manifest.PhaseSmoke}
	testStep      = step{"test", manifest.PhaseTest}
	writeStep     = step{"write", manifest.PhaseCompile}
)

// phase runs one step in its own log group and times it.
func (b *cell) phase(s step, title string, f func() error) error {
	b.stage = s.phase
	end := b.o.Log.Phase(title)
	err := f()
	b.c.Seconds[s.key] += end().Seconds()
	return err
}

func (b *cell) fail(m Module, name string, phase manifest.Phase, why string) {
	if name == "" {
		name = filepath.Base(m.Dir)
	}
	if strings.TrimSpace(why) == "" {
		why = "no message (this is a bug in nginx-modbuild: please report it with the build log)"
	}
	f := manifest.Failure{Module: name, Source: m.ID, Phase: phase, Error: why,
		Transient: phase.Transient(), Identity: m.Identity, Log: b.o.LogURL}
	b.failed = append(b.failed, f)
	b.o.Log.Printf("FAILED %s (%s): %s", name, phase, f.Reason())
}

func (b *cell) run(ctx context.Context) (Result, error) {
	o := b.o
	var res Result
	var tb source.Tarball
	if err := b.phase(fetchStep, "fetch nginx "+o.Nginx, func() (err error) {
		if o.Tree != "" {
			tb, err = treeSource(o.Tree, o.TreeWhat, o.Nginx)
			if err == nil {
				o.Log.Printf("nginx %s: from %s (%s), not nginx.org's tarball", o.Nginx, o.TreeWhat, o.Tree)
			}
			return err
		}
		tb, err = source.Fetch(ctx, o.Source, o.Nginx)
		if err == nil {
			o.Log.Printf("nginx-%s.tar.gz sha256 %s: %s", o.Nginx, tb.SHA256, tb.Verified)
			if tb.Proof == source.Unverified {
				o.Log.Printf("WARNING: building from an UNVERIFIED nginx source tarball (--insecure-skip-verify)")
			}
		}
		return err
	}); err != nil {
		return res, err
	}
	b.c.SourceSHA256, b.c.Verified = tb.SHA256, tb.Verified

	var mods []prepared
	b.phase(readStep, "read module configs", func() error {
		mods = b.prepare()
		return nil
	})
	if o.Packages != nil {
		if err := b.phase(depsStep, "deps", func() (err error) {
			mods, err = b.installHinted(ctx, mods)
			b.installTestPackages(ctx)
			return err
		}); err != nil {
			return res, err
		}
	}
	b.c.Compiler = o.Compiler.Version

	// A warm cell: the tree configured for exactly these inputs before.
	var root string
	var groups []group
	warm := false
	if o.Incremental != "" {
		var unlock func()
		var err error
		if warm, root, groups, unlock, err = b.warm(mods, tb.SHA256); err != nil {
			o.Log.Printf("incremental: %v: building this cell from clean", err)
			b.tree = o.WorkDir
		}
		defer unlock()
	}
	if !warm {
		if err := b.phase(extractStep, "extract", func() error {
			if o.Tree != "" {
				// configure writes into the tree: a copy of it.
				root = filepath.Join(b.tree, "src", "nginx-"+o.Nginx)
				if err := filetree.Copy(o.Tree, root, nil); err != nil {
					return err
				}
				return configureAtTop(root)
			}
			f, err := os.Open(tb.Path)
			if err != nil {
				return err
			}
			defer f.Close()
			root, err = source.Extract(f, filepath.Join(b.tree, "src"))
			return err
		}); err != nil {
			return res, fmt.Errorf("nginx %s: %w", o.Nginx, err)
		}
		if err := b.phase(configureStep, "configure", func() (err error) {
			groups, err = b.configure(ctx, root, mods)
			return err
		}); err != nil {
			return res, err
		}
		b.keep(root, groups)
	}

	makeLog := ""
	smokeKey, cached := "", false
	if o.Smoke != nil && o.SmokeCache != "" && !warm && len(groups) > 0 && !b.judgedByTarget() {
		if k, err := smokeKeyOf(root, groups[0].builddir, b.c); err == nil {
			smokeKey = k
			var why string
			cached, why = restoreSmoke(o.SmokeCache, k, groups[0].builddir, o.Nginx)
			switch {
			case cached:
				o.Log.Printf("smoke nginx: from the cache (%s)", k[:16])
			case why != "":
				o.Log.Printf("smoke nginx: the cache entry is refused (%s): building it again", why)
			}
		} else {
			o.Log.Printf("smoke nginx: not cached: %v", err)
		}
	}
	if warm {
		// A module that no longer compiles must not leave the last
		// build's .so behind for collect: make links them again (the
		// objects that did not change are kept).
		for _, g := range groups {
			for _, so := range g.makefile.SOs {
				os.Remove(so.Path)
			}
		}
	}
	b.phase(makeStep, "make modules", func() error {
		for i, g := range groups {
			targets := []string{"modules"}
			// A kept tree has its smoke nginx already (built there, or
			// restored from the smoke cache without nginx's objects, which
			// make would otherwise compile all again): it does not
			// depend on the modules.
			_, kept := os.Stat(filepath.Join(g.builddir, "nginx"))
			if o.Smoke != nil && i == 0 && !cached && !(warm && kept == nil) && !b.judgedByTarget() {
				// The smoke nginx is built in the same make run, so both
				// keep every core busy.
				targets = append(targets, "binary")
				o.Log.Printf("make: the modules and the smoke nginx (nginx's core: the long part of a cold cell; kept for the later cells of this nginx, distro and compiler)")
			}
			stop := b.progress(g.builddir)
			out, _ := run(ctx, root, MakeArgs(g.builddir, o.Jobs, targets...))
			stop()
			makeLog += out
		}
		return nil
	})
	if ctx.Err() != nil {
		return res, ctx.Err() // make was killed: what it left is no one's failure
	}
	if smokeKey != "" && !cached {
		if err := storeSmoke(o.SmokeCache, smokeKey, groups[0].builddir); err != nil {
			o.Log.Printf("smoke nginx: not cached: %v", err)
		}
	}
	res.Diagnostics = ParseDiagnostics(makeLog)

	var sos []*linked
	b.phase(collectStep, "collect", func() error {
		sos = b.collect(groups, makeLog, res.Diagnostics)
		return nil
	})
	b.phase(checkStep, "check symbols", func() error {
		sos = b.checkSignatures(sos)
		sos = b.checkSymbols(ctx, root, groups, sos)
		return nil
	})
	if o.Smoke != nil && len(sos) > 0 {
		b.phase(smokeStep, "smoke test", func() error {
			sos = b.smoke(ctx, groups[0].builddir, sos)
			return nil
		})
	}
	if err := b.phase(writeStep, "write", func() error { return b.write(sos) }); err != nil {
		return res, err
	}
	if o.Tests != nil && o.Smoke != nil && len(sos) > 0 {
		res.Nginx = filepath.Join(groups[0].builddir, "nginx")
		if b.judgedByTarget() {
			res.Nginx = o.Target
		}
		b.tests(ctx, res.Nginx, sos)
	}
	res.Files, res.Converted = b.files, b.converted
	b.seal()
	b.c.Failures = b.failed
	res.Manifest = manifest.Manifest{Schema: manifest.Schema, Entries: b.entries, Cells: []manifest.Cell{b.c}}
	if err := writeJSON(filepath.Join(o.Out, manifest.CellFileName(o.Nginx, o.Distro, o.Arch)), res.Manifest); err != nil {
		return res, err
	}
	return res, nil
}

// checkSignatures keeps the .so files whose module signature is the
// target's (Options.Signature): nginx compares them as strings.
func (b *cell) checkSignatures(sos []*linked) []*linked {
	if b.o.Signature == "" {
		return sos
	}
	var keep []*linked
	for _, s := range sos {
		info, err := modinfo.Open(s.file)
		if err != nil || len(info.Modules) == 0 {
			m, _ := b.moduleOf(s)
			b.fail(m, s.so.Name(), manifest.PhaseSignature, fmt.Sprintf("read its signature: %v", err))
			continue
		}
		got := info.Modules[0].Signature
		if got == b.o.Signature {
			keep = append(keep, s)
			continue
		}
		var why, fixes []string
		for _, d := range modinfo.Diff(got, b.o.Signature, info.Modules[0].Version) {
			why = append(why, d.String())
			if f := d.Fix(); !slices.Contains(fixes, f) {
				fixes = append(fixes, f)
			}
		}
		m, _ := b.moduleOf(s)
		b.fail(m, s.so.Name(), manifest.PhaseSignature, fmt.Sprintf("its module signature %s is not the target nginx's %s, so nginx would refuse it (\"is not binary compatible\"): %s. To fix: %s",
			got, b.o.Signature, strings.Join(why, "; "), strings.Join(fixes, "; ")))
	}
	if len(keep) > 0 {
		b.o.Log.Printf("module signature %s: the target nginx's, in %d .so file(s)", b.o.Signature, len(keep))
	}
	return keep
}

// prepare reads every module's config files for hints and orders the
// modules for configure: after the modules whose variables or switches
// their configs read, and after the modules they require; otherwise as
// given. Reading never decides what gets built; only a missing config
// file fails a module here.
func (b *cell) prepare() []prepared {
	var ok []prepared
	for i, m := range b.o.Modules {
		h, err := modconf.ReadHints(m.Dir)
		if err != nil {
			b.fail(m, "", manifest.PhaseConfigure, err.Error()+": a module directory needs the `config` file nginx's configure runs")
			continue
		}
		ok = append(ok, prepared{Module: m, index: i, hints: h})
	}
	deps := modconf.HintDeps(hintsOf(ok))
	for i, p := range ok {
		for _, r := range p.Requires {
			for j, q := range ok {
				if q.ID == r && j != i && !slices.Contains(deps[i], j) {
					deps[i] = append(deps[i], j)
				}
			}
		}
	}
	var out []prepared
	for _, i := range modconf.Sort(len(ok), deps) {
		out = append(out, ok[i])
	}
	if len(out) > 1 {
		var names []string
		for _, p := range out {
			names = append(names, filepath.Base(p.Dir))
		}
		b.o.Log.Printf("configure order: %s", strings.Join(names, ", "))
	}
	return out
}

// need is one package a module needs, as candidate names, and why.
type need struct {
	candidates []string
	why        string
	// declared is set for a package the config entry names: one the
	// index lacks fails the module. A library read from the config's
	// text is only a hint (the config may not need it on this system):
	// configure decides, and its failure then says what was searched.
	declared bool
}

// needs lists the packages a module's config hints at (libraries its
// probes mention, nginx library switches it turns on) and declares.
func (b *cell) needs(m prepared) []need {
	var out []need
	seen := map[string]bool{}
	add := func(n need) {
		if len(n.candidates) == 0 || seen[n.candidates[0]] {
			return
		}
		seen[n.candidates[0]] = true
		out = append(out, n)
	}
	for _, l := range m.hints.Libs {
		if lib, ok := sysdeps.LibraryFor("-l" + l); ok {
			add(need{candidates: lib.Packages[b.o.Family], why: "its config links -l" + l})
		}
	}
	for _, h := range m.hints.Headers {
		if lib, ok := sysdeps.LibraryFor(h); ok {
			add(need{candidates: lib.Packages[b.o.Family], why: "its config includes <" + h + ">"})
		}
	}
	for _, sw := range m.hints.Switches {
		if lib, ok := sysdeps.SwitchLibrary(sw); ok {
			add(need{candidates: lib.Packages[b.o.Family], why: "its config asks nginx to link " + sw + " (nginx's configure then probes for " + lib.Name + ")"})
		}
	}
	for _, p := range m.Packages[b.o.Family] {
		add(need{candidates: []string{p}, why: "its entry declares it (packages:)", declared: true})
	}
	return out
}

// installHinted looks up, in the build host's package index, the
// packages of the libraries each module's config mentions and the
// packages it declares, and installs them. A module whose declared
// package the index lacks, or whose packages cannot be installed, fails
// alone (phase deps) and is left out of configure; the others go on.
func (b *cell) installHinted(ctx context.Context, mods []prepared) ([]prepared, error) {
	type plan struct {
		m    prepared
		pkgs []string
	}
	var plans []plan
	var all []string
	for _, m := range mods {
		p := plan{m: m}
		var missing []string
		for _, n := range b.needs(m) {
			pkg, err := b.o.Packages.Resolve(ctx, n.candidates)
			var nf *sysdeps.NotInIndex
			switch {
			case errors.As(err, &nf) && n.declared:
				missing = append(missing, fmt.Sprintf("%s: %v", n.why, err))
			case errors.As(err, &nf):
				b.o.Log.Printf("%s: %s, but %v: configure decides whether it is needed", filepath.Base(m.Dir), n.why, err)
				b.unresolved[m.Dir] = append(b.unresolved[m.Dir], err.Error())
			case err != nil:
				return nil, err // the index itself could not be read: no module can be judged
			default:
				if !slices.Contains(p.pkgs, pkg) {
					p.pkgs = append(p.pkgs, pkg)
				}
			}
		}
		if len(missing) > 0 {
			b.fail(m.Module, "", manifest.PhaseDeps, "a package it needs is not in this distribution's index:\n"+strings.Join(missing, "\n"))
			// The index said no: trying again next run changes nothing
			// until the module or its entry does.
			b.failed[len(b.failed)-1].Transient = false
			continue
		}
		plans = append(plans, p)
		for _, pkg := range p.pkgs {
			if !slices.Contains(all, pkg) {
				all = append(all, pkg)
			}
		}
	}
	var ok []prepared
	var err error
	if len(all) > 0 {
		b.o.Log.Printf("packages the modules need: %s", strings.Join(all, " "))
		err = b.o.Packages.Install(ctx, all)
	}
	if err == nil {
		for _, p := range all {
			b.installed[p] = true
		}
		for _, p := range plans {
			ok = append(ok, p.m)
		}
		return ok, nil
	}
	b.o.Log.Printf("installing them together failed: installing each module's packages alone to find which: %v", lines.First(err.Error()))
	for _, p := range plans {
		if err := b.o.Packages.Install(ctx, p.pkgs); err != nil {
			b.fail(p.m.Module, "", manifest.PhaseDeps, fmt.Sprintf("install %s: %v", strings.Join(p.pkgs, " "), err))
			continue
		}
		for _, pkg := range p.pkgs {
			b.installed[pkg] = true
		}
		ok = append(ok, p.m)
	}
	return ok, nil
}

type group struct {
	builddir string
	mods     []prepared
	wrappers []string
	record   map[int]*declared
	makefile Makefile
}

func hintsOf(mods []prepared) []*modconf.Hints {
	out := make([]*modconf.Hints, len(mods))
	for i, m := range mods {
		out[i] = m.hints
	}
	return out
}

func dirsOf(mods []prepared) []string {
	var out []string
	for _, m := range mods {
		out = append(out, m.Dir)
	}
	return out
}

// configure runs configure for all modules at once; a module whose config
// makes configure fail is dropped (and reported) and configure re-run.
// When modules collide on object paths they are split into groups, each
// configured into a build directory of its own.
func (b *cell) configure(ctx context.Context, root string, mods []prepared) ([]group, error) {
	g, err := b.configureGroup(ctx, root, filepath.Join(b.tree, "objs"), mods)
	if err != nil || len(g.mods) == 0 {
		return nil, err
	}
	collisions := g.makefile.Collisions(dirsOf(g.mods))
	if len(collisions) == 0 {
		return []group{g}, nil
	}
	for obj, dirs := range collisions {
		b.o.Log.Printf("object collision: %s would be compiled from %s: splitting into separate configure runs", obj, strings.Join(dirs, " and "))
	}
	split, err := Split(dirsOf(g.mods), collisions, modconf.HintDeps(hintsOf(g.mods)))
	if err != nil {
		return nil, err
	}
	var groups []group
	for n, idx := range split {
		var sub []prepared
		for _, i := range idx {
			sub = append(sub, g.mods[i])
		}
		sg, err := b.configureGroup(ctx, root, filepath.Join(b.tree, fmt.Sprintf("objs-%d", n+1)), sub)
		if err != nil {
			return nil, err
		}
		groups = append(groups, sg)
	}
	return groups, nil
}

// configureGroup runs configure until it succeeds: a module whose config
// fails is dropped and reported (after installing a missing library once,
// with --install-deps), and when a config turned on a switch that an
// earlier config had read as off, configure runs again with it first.
func (b *cell) configureGroup(ctx context.Context, root, builddir string, mods []prepared) (group, error) {
	reordered := false
	triedSwitch := map[string]bool{}
	for attempt := 0; ; attempt++ {
		if len(mods) == 0 {
			return group{builddir: builddir}, nil
		}
		rec := filepath.Join(b.tree, fmt.Sprintf("record-%s-%d", filepath.Base(builddir), attempt))
		g := group{builddir: builddir, mods: mods}
		for _, m := range mods {
			w, err := writeWrapper(b.tree, m.index, m.Module, rec)
			if err != nil {
				return group{}, err
			}
			g.wrappers = append(g.wrappers, w)
		}
		args := ConfigureArgs(builddir, b.o.NoCompat, b.configureExtra(), g.wrappers)
		b.c.Configure = append(append([]string{}, args[1:len(args)-len(g.wrappers)]...), prefixed("--add-dynamic-module=", dirsOf(mods))...)
		out, err := run(ctx, root, args)
		g.record = readRecord(rec)
		if err == nil {
			if !reordered {
				if moved, why := switchOrder(mods, g.record); moved != nil {
					b.o.Log.Printf("%s: configuring again in that order", why)
					mods, reordered = moved, true
					continue
				}
			}
			mf, rerr := readMakefile(builddir)
			if rerr != nil {
				return group{}, rerr
			}
			g.makefile = mf
			return g, nil
		}
		if ctx.Err() != nil {
			return group{}, ctx.Err()
		}
		culprit := ConfigureCulprit(out, g.wrappers)
		if culprit == "" {
			// nginx's own library probe failed after the module configs
			// ran: the modules whose config turned that switch on caused
			// it (dav-ext's ngx_module_libs=LIBXSLT).
			sw, blamed := switchCulprits(out, mods, g.record)
			if len(blamed) == 0 {
				return group{}, fmt.Errorf("configure nginx %s failed (not in a module's config):\n%s", b.o.Nginx, lines.Last(out, 25))
			}
			lib, _ := sysdeps.SwitchLibrary(sw)
			if b.o.Packages != nil && !triedSwitch[sw] {
				triedSwitch[sw] = true
				if b.installSwitch(ctx, lib) {
					continue
				}
			}
			var names []string
			for _, k := range blamed {
				names = append(names, filepath.Base(mods[k].Dir))
			}
			pkg := strings.Join(lib.Packages[cmp.Or(b.o.Family, distro.Apt)], " or ")
			for _, k := range blamed {
				m := mods[k]
				b.fail(m.Module, "", manifest.PhaseConfigure, fmt.Sprintf("%s\nits config asks nginx to link %s (ngx_module_libs), and nginx's configure did not find %s. Install %s on %s (nginx-modbuild build --install-deps does), or declare it in the module's entry: packages: {%s: [%s]}",
					configureError(out), sw, lib.Name, pkg, b.o.Distro, cmp.Or(string(b.o.Family), "apt"), lib.Packages[cmp.Or(b.o.Family, distro.Apt)][0]))
			}
			b.o.Log.Printf("configure failed in nginx's %s probe, which %s turned on: configuring again without it", sw, strings.Join(names, ", "))
			var rest []prepared
			for k, m := range mods {
				if !slices.Contains(blamed, k) {
					rest = append(rest, m)
				}
			}
			mods = rest
			continue
		}
		var rest []prepared
		for k, m := range mods {
			if g.wrappers[k] != culprit {
				rest = append(rest, m)
				continue
			}
			probes := FailedProbes(readFile(filepath.Join(builddir, "autoconf.err")), m.index)
			if b.o.Packages != nil && b.installMissing(ctx, m, probes) {
				rest = append(rest, m) // try again with the library installed
				continue
			}
			msg := "configure stopped in its config:\n" + configureOutput(out, culprit)
			if r := probeReport(probes, b.o.Family, b.o.Distro, m.ID); r != "" {
				msg += "\n" + r
			}
			for _, u := range b.unresolved[m.Dir] {
				msg += "\n" + u
			}
			b.fail(m.Module, "", manifest.PhaseConfigure, msg)
		}
		mods = rest
	}
}

// installMissing installs the known packages of the libraries a failed
// probe did not find, once per package; it reports whether it installed
// anything.
func (b *cell) installMissing(ctx context.Context, m prepared, probes []Probe) bool {
	known, _ := missingLibraries(probes)
	return b.installLibs(ctx, filepath.Base(m.Dir)+": configure", m.Dir, known)
}

// installSwitch installs the library behind one of nginx's switches (a
// module turned it on and nginx's probe for it failed); it reports
// whether it installed anything.
func (b *cell) installSwitch(ctx context.Context, lib sysdeps.Library) bool {
	return b.installLibs(ctx, "nginx's "+lib.Switch+" probe", "", []sysdeps.Library{lib})
}

// installLibs resolves in the package index and installs the libraries
// a failed probe (who) did not find, each package once per cell; it
// reports whether it installed anything. A library the index lacks is
// noted against the module in dir, for its failure message.
func (b *cell) installLibs(ctx context.Context, who, dir string, libs []sysdeps.Library) bool {
	var pkgs []string
	for _, l := range libs {
		p, err := b.o.Packages.Resolve(ctx, l.Packages[b.o.Family])
		if err != nil {
			b.o.Log.Printf("%s did not find %s: %v", who, l.Name, err)
			if dir != "" {
				b.unresolved[dir] = append(b.unresolved[dir], err.Error())
			}
			continue
		}
		if !b.installed[p] {
			pkgs = append(pkgs, p)
			b.installed[p] = true
		}
	}
	if len(pkgs) == 0 {
		return false
	}
	b.o.Log.Printf("%s did not find %s: installing it", who, strings.Join(pkgs, " "))
	if err := b.o.Packages.Install(ctx, pkgs); err != nil {
		b.o.Log.Printf("install %s: %v", strings.Join(pkgs, " "), err)
		return false
	}
	return true
}

// switchErrors are nginx's configure errors for the libraries behind its
// switches (auto/lib/*/conf), by switch.
var switchErrors = map[string]string{
	"LIBXSLT":   "requires the libxml2/libxslt",
	"LIBGD":     "requires the GD library",
	"GEOIP":     "requires the GeoIP library",
	"PERL":      "perl 5.8.6 or higher is required",
	"LIBATOMIC": "libatomic_ops library was not found",
	"PCRE":      "requires the PCRE library",
	"OPENSSL":   "require the OpenSSL library",
	"ZLIB":      "requires the zlib library",
}

// switchCulprits reads a configure failure outside every module config:
// when it is nginx's probe for a library switch, it returns the switch
// and the modules (indices into mods) whose config turned it on.
func switchCulprits(out string, mods []prepared, rec map[int]*declared) (string, []int) {
	errLine := configureError(out)
	for sw, msg := range switchErrors {
		if !strings.Contains(errLine, msg) && !(sw == "PERL" && strings.Contains(errLine, "perl module ExtUtils::Embed")) {
			continue
		}
		var blamed []int
		for k, m := range mods {
			if d := rec[m.index]; d != nil && d.Before["USE_"+sw] == "NO" && d.After["USE_"+sw] != "NO" && d.After["USE_"+sw] != "" {
				blamed = append(blamed, k)
			}
		}
		return sw, blamed
	}
	return "", nil
}

// configureError is configure's error line ("./configure: error: ...").
func configureError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ": error: ") && strings.Contains(l, "configure") {
			return strings.TrimSpace(l)
		}
	}
	return lines.First(lines.Last(out, 1))
}

// switchOrder finds a config that turned on a configure switch (say
// USE_OPENSSL) after an earlier config read it while it was off, and
// returns the order with the switching module moved before the reader.
func switchOrder(mods []prepared, rec map[int]*declared) ([]prepared, string) {
	for i, m := range mods {
		d := rec[m.index]
		if d == nil || d.Before == nil {
			continue
		}
		for _, v := range m.hints.Reads {
			if d.Before[v] == "YES" {
				continue
			}
			for j := i + 1; j < len(mods); j++ {
				e := rec[mods[j].index]
				if e != nil && e.Before[v] != "YES" && e.After[v] == "YES" {
					out := append([]prepared{}, mods[:i]...)
					out = append(out, mods[j])
					for k := i; k < len(mods); k++ {
						if k != j {
							out = append(out, mods[k])
						}
					}
					return out, fmt.Sprintf("%s turns on %s, which %s's config had read as off", filepath.Base(mods[j].Dir), v, filepath.Base(m.Dir))
				}
			}
		}
	}
	return nil, ""
}

// configureOutput is what configure printed from "adding module in dir"
// on (the module's own messages, its error line last).
func configureOutput(out, dir string) string {
	if i := strings.LastIndex(out, "adding module in "+dir); i >= 0 {
		out = out[i+len("adding module in "+dir):]
	}
	return lines.Last(strings.TrimLeft(out, "\n"), 15)
}

// collect maps every .so configure declared to the module whose config
// declared it, reports each requested module for which configure
// declared none (with the reason) and each .so that did not compile.
func (b *cell) collect(groups []group, makeLog string, diags []Diagnostic) []*linked {
	var out []*linked
	for _, g := range groups {
		owner := map[string]int{} // .so name -> position in g.mods
		for k, m := range g.mods {
			if d := g.record[m.index]; d != nil {
				for _, n := range d.Names {
					owner[n] = k
				}
				if d.OldStyle {
					b.converted = append(b.converted, d.Names...)
					b.o.Log.Printf("%s: old-style config (it only adds to nginx's module lists, for which nginx builds no .so): declared as a dynamic module", filepath.Base(m.Dir))
				}
			}
		}
		got := map[int]bool{}
		for _, so := range g.makefile.SOs {
			k, ok := owner[so.Name()]
			if !ok {
				k = -1
				if d := majorityOwner(so.Sources, g.mods); d >= 0 {
					k = d
				}
			}
			if err := manifest.CheckName("module", so.Name()); err != nil {
				b.fail(Module{ID: "nginx", Dir: "nginx"}, "(bad name)", manifest.PhaseConfigure, err.Error()+": configure declared a .so of that name")
				continue
			}
			l := &linked{so: so, owner: -1, file: so.Path}
			var m prepared
			if k >= 0 {
				m = g.mods[k]
				l.owner = m.index
				got[k] = true
			}
			if _, err := os.Stat(so.Path); err != nil {
				if k >= 0 {
					msg := "did not compile:\n" + excerpt(m, so.Name(), makeLog, diags)
					if strings.Contains(msg, "pcre_") && strings.Contains(msg, "pcre2") {
						msg += "\nThe module uses the PCRE1 API but nginx " + b.o.Nginx + " is configured with PCRE2. Use a version of the module that supports PCRE2." +
							" --without-pcre2 (configure: in the config) builds it against a PCRE1 nginx only: the .so then loads only into an nginx built with PCRE1," +
							" not into the distributions' own nginx packages, which use PCRE2 (Debian 12 and 13, Ubuntu 22.04 and later)."
					}
					b.fail(m.Module, so.Name(), manifest.PhaseCompile, msg)
				} else {
					b.fail(Module{ID: "nginx", Dir: "nginx"}, so.Name(), manifest.PhaseCompile, "nginx's own module did not compile:\n"+lines.Last(makeLog, 10))
				}
				continue
			}
			out = append(out, l)
		}
		for k, m := range g.mods {
			if !got[k] {
				b.fail(m.Module, "", manifest.PhaseConfigure, noSOReason(m, g.record[m.index], b.o.Configure))
			}
		}
	}
	return out
}

// majorityOwner is the module whose directory holds most of a .so's
// sources (each source's owner as Collisions finds it).
func majorityOwner(srcs []string, mods []prepared) int {
	dirs := dirsOf(mods)
	count := make([]int, len(mods))
	best := -1
	for _, src := range srcs {
		if k := slices.Index(dirs, owner(src, dirs)); k >= 0 {
			count[k]++
			if best < 0 || count[k] > count[best] || (count[k] == count[best] && k < best) {
				best = k
			}
		}
	}
	return best
}

// noSOReason explains why configure declared no .so for a module.
func noSOReason(m prepared, d *declared, configure []string) string {
	if d == nil || !d.Ran {
		return "configure did not run its config to the end (see the configure output in the log)"
	}
	reason := "its config, run by configure, declared no module (no auto/module call was reached and nothing was added to nginx's module lists)"
	for _, sw := range []struct{ v, arg string }{{"STREAM", "--with-stream=dynamic"}, {"MAIL", "--with-mail=dynamic"}, {"HTTP", "(do not pass --without-http)"}} {
		if slices.Contains(m.hints.Reads, sw.v) && d.Before[sw.v] == "NO" {
			reason += fmt.Sprintf(": it tests $%s, which is NO in this configure; to build its %s module add %s to configure: in the config",
				sw.v, strings.ToLower(sw.v), sw.arg)
			return reason
		}
	}
	return reason
}

// excerpt is what the compiler said about a module: its error lines, or
// failing that the end of make's output that mentions it.
func excerpt(m prepared, so, makeLog string, diags []Diagnostic) string {
	var lines []string
	for _, d := range diags {
		if d.Severity == "error" && strings.HasPrefix(d.File, m.Dir+"/") {
			lines = append(lines, fmt.Sprintf("%s:%d:%d: error: %s", d.File, d.Line, d.Column, d.Message))
		}
	}
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("... and %d more errors", len(lines)-10))
	}
	if len(lines) == 0 {
		for _, l := range strings.Split(makeLog, "\n") {
			if strings.Contains(l, so) || strings.Contains(l, m.Dir) {
				lines = append(lines, l)
			}
		}
		if len(lines) > 10 {
			lines = lines[len(lines)-10:]
		}
	}
	return strings.Join(lines, "\n")
}

// progress prints, every 10 s while make runs outside Actions (where the
// log group shows make is running), how many objects it has compiled
// under builddir; the returned function stops it.
func (b *cell) progress(builddir string) func() {
	if b.o.Log.Actions {
		return func() {}
	}
	start, done, stopped := time.Now(), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n := 0
				filepath.WalkDir(builddir, func(_ string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".o") {
						n++
					}
					return nil
				})
				b.o.Log.Printf("    make: %.0f s, %d objects compiled", time.Since(start).Seconds(), n)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// removeStale removes, from the output directory, the version-named .so
// of each module that failed in this cell, left by an earlier build: no
// manifest of this cell names it, and beside the good ones it would pass
// for this build's.
func (b *cell) removeStale() {
	for _, f := range b.failed {
		if manifest.CheckName("module", f.Module) != nil {
			continue
		}
		p := filepath.Join(b.o.Out, manifest.FileName(f.Module, b.o.Nginx))
		if err := os.Remove(p); err == nil {
			b.o.Log.Printf("removed %s: left by an earlier build; %s failed in this one", filepath.Base(p), f.Module)
		}
	}
}

// write copies each good .so under its version-named file, in load
// order, with its manifest entry.
func (b *cell) write(sos []*linked) error {
	if err := os.MkdirAll(b.o.Out, 0o755); err != nil {
		return err
	}
	b.removeStale()
	// A module with release: false is not written, unless a released
	// one needs it loaded first (its symbols): then nothing would load.
	needed := map[*linked]bool{}
	for _, s := range sos {
		if m, _ := b.moduleOf(s); !m.NoRelease {
			for _, r := range s.requires {
				needed[r] = true
			}
		}
	}
	for _, s := range sos {
		if m, _ := b.moduleOf(s); m.NoRelease && !needed[s] {
			b.o.Log.Printf("%s: built for the checks and tests only (release: false), not written", s.so.Name())
			continue
		} else if m.NoRelease {
			b.o.Log.Printf("%s: release: false, but a released module needs it loaded first: written", s.so.Name())
		}
		data, err := os.ReadFile(s.file)
		if err != nil {
			return err
		}
		name := manifest.FileName(s.so.Name(), b.o.Nginx)
		dst := filepath.Join(b.o.Out, name)
		if err := atomicfile.Write(dst, data, 0o755); err != nil {
			return err
		}
		m, _ := b.moduleOf(s)
		var requires []string
		for _, o := range s.requires {
			requires = append(requires, o.so.Name())
		}
		sum := sha256.Sum256(data)
		info, err := modinfo.Read(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("read the module built as %s: %w", name, err)
		}
		sig := info.Signature // an executable's; a module file's are its modules'
		if len(info.Modules) > 0 {
			sig = info.Modules[0].Signature
		}
		b.entries = append(b.entries, manifest.Entry{
			Module: s.so.Name(), Source: m.ID, Commit: m.Commit, Identity: m.Identity, Nginx: b.o.Nginx, Plus: b.o.Plus,
			Distro: b.o.Distro, Arch: b.o.Arch, File: name, SHA256: hex.EncodeToString(sum[:]),
			Signature: sig, Target: b.o.TargetSHA256, BuiltAt: b.o.Now().UTC().Format(time.RFC3339), Requires: requires,
		})
		b.files = append(b.files, dst)
		b.o.Log.Printf("built %s", name)
	}
	return nil
}

// run runs argv in dir and returns its combined output. argv runs module
// code (configure sources each module's config, make its rules, nginx
// loads its .so), so it gets the allowlisted environment only: no token,
// key or Actions request token, whatever the tool itself was started with.
func run(ctx context.Context, dir string, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = modenv.Env(os.Getenv)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return out.String(), err
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}
