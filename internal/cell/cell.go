// Package cell compiles nginx dynamic modules against an exact nginx
// version, the way NGINX's upgrade guide does by hand (configure
// --with-compat --add-dynamic-module, make modules), verified, in one
// configure for all modules, with every module's result reported.
package cell

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// Module is a module source ready to build.
type Module struct {
	// ID names the source as the config does (path or git URL).
	ID string
	// Name is the module's one name in logs, failures and test records:
	// what its config names it (modconf.Name), else its directory's name
	// (Run fills it in when empty).
	Name string
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
	// needsStream says why it needs nginx's stream configured
	// (modconf.NeedsStream), "" when it does not.
	needsStream string
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
	// Files, with Packages, names the packages holding a file a module's
	// compile, link or config stopped without (sysdeps.FileIndex): they
	// are installed and the module is built again.
	Files FileLookup
	Log   *Log
	Now   func() time.Time
}

// PackageManager installs distribution packages on the build host
// (sysdeps.Installer).
type PackageManager interface {
	// Resolve returns the first of candidates that is installed or that
	// the package index has; the error says what was searched.
	Resolve(ctx context.Context, candidates []string) (string, error)
	Install(ctx context.Context, pkgs []string) error
}

// FileLookup finds the packages of the distribution that hold a file
// (sysdeps.FileIndex): the best first, and where it searched.
type FileLookup interface {
	Provides(ctx context.Context, w sysdeps.Wanted) ([]string, string, error)
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

// ModulesFailed reports modules that did not build or failed their
// tests; the others did.
type ModulesFailed struct {
	Failures []manifest.Failure
}

func (e *ModulesFailed) Error() string {
	var b strings.Builder
	tests := 0
	for _, f := range e.Failures {
		if f.Phase == manifest.PhaseTest {
			tests++
		}
	}
	switch {
	case tests == len(e.Failures):
		fmt.Fprintf(&b, "%d module(s) built but failed their tests:", tests)
	case tests > 0:
		fmt.Fprintf(&b, "%d module(s) failed to build, %d built but failed their tests:", len(e.Failures)-tests, tests)
	default:
		fmt.Fprintf(&b, "%d module(s) failed to build:", len(e.Failures))
	}
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

type builder struct {
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
	// looked are the files already looked up in the file index.
	looked    map[sysdeps.Wanted]bool
	converted []string
	// testPackagesErr are, by module ID, why its tests' packages did not
	// install.
	testPackagesErr map[string]error
	// unresolved are, by module directory, the libraries its config
	// hints at that no package in the index provides (said again if its
	// configure fails).
	unresolved map[string][]string
	// directives maps nginx's directives to the test: needs: name of their
	// module, read from the tree when a suite first bails out.
	directives map[string]string
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
	o.Modules = named(o.Modules)
	b := &builder{o: o, tree: o.WorkDir, c: manifest.Cell{Nginx: o.Nginx, Plus: o.Plus, Distro: o.Distro, Arch: o.Arch, Seconds: map[string]float64{},
		Incremental: o.Incremental != "", ABI: o.ABI},
		installed: map[string]bool{}, unresolved: map[string][]string{}, looked: map[sysdeps.Wanted]bool{}}
	f, err := b.run(ctx)
	if ctx.Err() != nil {
		return Result{}, b.interrupted(ctx)
	}
	if err != nil {
		return Result{Manifest: b.failCell(err)}, err
	}
	res := Result{Diagnostics: f.diags, Files: b.files, Converted: b.converted, Nginx: f.nginx,
		Manifest: manifest.Manifest{Schema: manifest.Schema, Entries: b.entries, Cells: []manifest.Cell{b.published()}}}
	if len(b.failed) > 0 {
		return res, &ModulesFailed{Failures: b.failed}
	}
	return res, nil
}

// failCell records a failure of the whole cell: every module failed with
// it, in the phase it happened in, and the cell manifest says so (a
// download that failed is transient; a verification that failed is not).
func (b *builder) failCell(err error) manifest.Manifest {
	why := err.Error()
	for _, m := range b.o.Modules {
		b.fail(m, "", b.stage, why)
	}
	if errors.Is(err, source.ErrUnverified) || errors.Is(err, source.ErrMismatch) {
		// Not the network: the same bytes fail the same way again.
		for i := range b.failed {
			b.failed[i].Transient = false
		}
	}
	b.c.Failures = b.failed
	m := manifest.Manifest{Schema: manifest.Schema, Cells: []manifest.Cell{b.published()}}
	os.MkdirAll(b.o.Out, 0o755)
	if werr := writeJSON(filepath.Join(b.o.Out, manifest.CellFileName(b.o.Nginx, b.o.Distro, b.o.Arch)), m); werr != nil {
		b.o.Log.Printf("write the cell manifest: %v", werr)
	}
	return m
}

// published is the cell as its manifest records it, for anyone to read
// once released: configure's arguments without this machine's paths (the
// build directory; a module's directory is named by its config entry, as
// --add-dynamic-module=. or the git URL).
func (b *builder) published() manifest.Cell {
	c := b.c
	c.Configure = nil
	for _, a := range b.c.Configure {
		if strings.HasPrefix(a, "--builddir=") {
			continue
		}
		if dir, ok := strings.CutPrefix(a, "--add-dynamic-module="); ok {
			for _, m := range b.o.Modules {
				if m.Dir == dir {
					a = "--add-dynamic-module=" + m.ID
				}
			}
		}
		c.Configure = append(c.Configure, a)
	}
	return c
}

// judgedByTarget reports whether the target binary judges the cell
// (Options.TargetJudges): no nginx of its own is compiled.
func (b *builder) judgedByTarget() bool { return b.o.Target != "" && b.o.TargetJudges }

// ErrInterrupted is a cell stopped before it ended (Ctrl-C, SIGTERM, a
// cancelled job): what failed then failed because it was stopped.
var ErrInterrupted = errors.New("interrupted")

// interrupted ends a cell whose context was cancelled: nothing of it is
// recorded (no cell manifest, none of its files), so a later plan builds
// it again rather than reading the kill as a compile failure.
func (b *builder) interrupted(ctx context.Context) error {
	for _, f := range b.files {
		os.Remove(f)
	}
	os.Remove(filepath.Join(b.o.Out, manifest.CellFileName(b.o.Nginx, b.o.Distro, b.o.Arch)))
	b.o.Log.Printf("nginx %s cell: interrupted (%v); nothing recorded for it", b.o.Nginx, context.Cause(ctx))
	return fmt.Errorf("nginx %s cell: %w (%w): nothing was recorded for it; build it again", b.o.Nginx, ErrInterrupted, context.Cause(ctx))
}

// named fills in each module's Name and what its config and sources say
// it needs of nginx (a copy: the caller's slice is left as it is).
func named(mods []Module) []Module {
	out := slices.Clone(mods)
	for i := range out {
		if out[i].Name == "" {
			out[i].Name = cmp.Or(modconf.Name(out[i].Dir), filepath.Base(out[i].Dir))
		}
		out[i].needsStream = modconf.NeedsStream(out[i].Dir)
	}
	return out
}

func (b *builder) fail(m Module, name string, phase manifest.Phase, why string) {
	if name == "" {
		name = cmp.Or(m.Name, filepath.Base(m.Dir))
	}
	if strings.TrimSpace(why) == "" {
		why = "no message (this is a bug in nginx-modbuild: please report it with the build log)"
	}
	f := manifest.Failure{Module: name, Source: m.ID, Phase: phase, Error: why,
		Transient: phase.Transient(), Identity: m.Identity, Log: b.o.LogURL}
	b.failed = append(b.failed, f)
	b.o.Log.Printf("FAILED %s (%s): %s", name, phase, f.Reason())
}
