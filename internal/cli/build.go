package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/like"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modenv"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modsrc"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/upstream"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/safename"
)

type buildOptions struct {
	config                          configFlag
	nginx, distro, arch             string
	mirror, out, cache, targetNginx string
	keyFile                         string
	smoke, insecure, keepWork       bool
	installDeps, noCompat, packages bool
	test, incremental               bool
	testNginx, likePath             string
	source, sourceSHA               string
	modules                         pathList
	like                            *like.Target
	jobs                            int
	versions                        []string
}

func buildCommand() command {
	return newCommand[buildOptions]("build", "[--config F] --nginx 1.26.3[,1.28.0] [--distro debian-12] [--mirror URL|DIR] [--out dist] [--smoke=false] [--install-deps] [--jobs N] [--cache-dir D]",
		"compile the modules against nginx versions into version-named .so files", runBuild)
}

func (o *buildOptions) flags(fs *flag.FlagSet, d *Deps) {
	o.config.register(fs)
	fs.StringVar(&o.nginx, "nginx", "", "nginx version(s) to build against, comma-separated (required)")
	fs.StringVar(&o.distro, "distro", d.Machine.DistroName(), "distro label of this build (default: from /etc/os-release)")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "architecture label of this build")
	fs.StringVar(&o.mirror, "mirror", upstream.DefaultIndexURL, "nginx download mirror: a URL or a local directory")
	fs.StringVar(&o.out, "out", "dist", "output directory for .so files and cell manifests")
	fs.BoolVar(&o.smoke, "smoke", true, "build nginx too and prove the modules load (and answer smoke.request)")
	fs.IntVar(&o.jobs, "jobs", runtime.NumCPU(), "parallel compile jobs")
	fs.StringVar(&o.cache, "cache-dir", cacheDir(d), "cache directory (tarballs, git clones)")
	fs.BoolVar(&o.insecure, "insecure-skip-verify", false, "accept an nginx tarball that no signature or pinned checksum verifies (DANGEROUS)")
	fs.BoolVar(&o.keepWork, "keep-work", false, "keep the build directory (for debugging)")
	fs.BoolVar(&o.installDeps, "install-deps", false, "install the compiler, make, PCRE, zlib and OpenSSL headers and module-declared libraries with the system's package manager (needs root)")
	fs.BoolVar(&o.packages, "packages", false, "also make each built module a native package of the distro (.deb, .rpm, .apk; packages.enabled in the config)")
	fs.StringVar(&o.keyFile, "signing-key", "", "refused: build runs module code and holds no key; release signs the packages (release --signing-key)")
	fs.StringVar(&o.targetNginx, "target-nginx", "auto", "the distro's own nginx the modules must also load into: a path, none, or auto (for a cell of this distro's packaged nginx version: its nginx, installed with --install-deps when missing)")
	fs.BoolVar(&o.test, "test", false, "run each module's own test suite (test: in its config entry) against the nginx built with it, with every .so loaded; needs --smoke")
	fs.BoolVar(&o.incremental, "incremental", false, "keep each cell's configured and built tree under the cache directory (cells/): a cell whose configure inputs did not change skips configure and make rebuilds only what changed (pull-request checks)")
	fs.StringVar(&o.testNginx, "test-nginx", "", "with --test: a Test::Nginx checkout or its lib directory (default: what perl finds on its @INC and PERL5LIB)")
	fs.Var(&o.modules, "module", "a module to build instead of the config's (repeatable): git:URL[@REF] or a directory with an nginx module config file")
	fs.StringVar(&o.likePath, "like", "", "build for this nginx binary: its version, its configure arguments (--with-compat only if it has it) and its module signature, which every .so must carry; it is the target the modules are checked against and loaded into")
	fs.StringVar(&o.source, "source", "", "build from this nginx source instead of nginx.org's tarball (a fork's, for a --like binary that is freenginx or Angie): a directory, or a .tar.gz path or https:// URL ({version} stands for the version) with --source-sha256; nginx.source in the config")
	fs.StringVar(&o.sourceSHA, "source-sha256", "", "the SHA-256 of --source's tarball (else nginx.sha256 of the version in the config)")
	fs.BoolVar(&o.noCompat, "without-compat", false, "leave out --with-compat, for an nginx built without it (the modules then load only into an nginx configured with exactly the same arguments)")
}

func (o *buildOptions) check(args []string, d *Deps) error {
	if err := noArgs("build", args); err != nil {
		return err
	}
	if o.likePath != "" {
		if err := o.readLike(d); err != nil {
			return err
		}
	}
	if o.nginx == "" {
		return usagef("build: --nginx X.Y.Z is required (e.g. the nginx field of a plan job), or --like PATH (an nginx binary)")
	}
	if o.keyFile != "" {
		return usagef("build --signing-key: build runs module code (configure, make, tests), so it holds no key; it makes the packages unsigned and release signs them: give the key to release (--signing-key, or the Action's repo-signing-key on the release step)")
	}
	if err := safename.Check("--distro", o.distro); err != nil {
		return usagef("build: %v", err)
	}
	if err := safename.Check("--arch", o.arch); err != nil {
		return usagef("build: %v", err)
	}
	for _, v := range strings.Split(o.nginx, ",") {
		if _, err := nginxver.Parse(strings.TrimSpace(v)); err != nil {
			return usagef("build: --nginx: %v", err)
		}
		o.versions = append(o.versions, strings.TrimSpace(v))
	}
	if o.test && !o.smoke {
		return usagef("build: --test runs the tests against the nginx the smoke test builds: leave --smoke on")
	}
	if o.testNginx != "" {
		lib, err := testNginxLib(absIn(d.Dir, o.testNginx))
		if err != nil {
			return usagef("build: --test-nginx: %v", err)
		}
		o.testNginx = lib
	}
	o.cache = cacheOrTemp(o.cache)
	o.out = absIn(d.Dir, o.out)
	if dir, ok := fetch.LocalDir(o.mirror); ok {
		o.mirror = absIn(d.Dir, dir)
	}
	return nil
}

// outsideRepo says so of each path module outside the repository (path:
// ../echo): it builds, but no commit of this repository names what was
// built, and a checkout elsewhere will not find it.
func outsideRepo(d *Deps, cfg *config.Config, mods []modsrc.Source) {
	if cfg.Root == "" {
		return
	}
	for _, m := range mods {
		if m.Entry.Path == "" {
			continue
		}
		if rel, err := filepath.Rel(cfg.Root, m.Dir); err == nil && (rel == ".." || strings.HasPrefix(rel, "../")) {
			d.logf("note: module %s is outside the repository (%s): it builds, but this repository's commit does not pin it and a fresh checkout lacks it; use git: URL with a ref, or move it inside", m.ID, cfg.Root)
		}
	}
}

// builder is what every cell of one build command shares.
type builder struct {
	o         *buildOptions
	d         *Deps
	cfg       *config.Config
	mods      []modsrc.Source
	pkgDistro distro.Distro // the packages' distro, with --packages
	host      distro.Distro // this machine's, with --install-deps
	compiler  machine.Compiler
	keyring   *source.Keyring
	log       *cell.Log
	// trees are the distro's module-building sources of the target
	// binaries, by version (nil: nginx.org's tarball).
	trees map[string]*distroTree
}

func runBuild(ctx context.Context, o *buildOptions, d *Deps) error {
	b, err := newBuilder(ctx, o, d)
	if err != nil {
		return err
	}
	if o.insecure {
		fmt.Fprintln(d.Stderr, "WARNING: --insecure-skip-verify: nginx sources that nothing verifies will be built")
	}
	var failures []error
	for _, v := range o.versions {
		cellErr, err := b.cell(ctx, v)
		if err != nil {
			return err
		}
		if errors.Is(cellErr, cell.ErrInterrupted) {
			return cellErr // no other version either
		}
		// A failed cell is recorded in its manifest; the other versions
		// still build.
		var mf *cell.ModulesFailed
		switch {
		case errors.As(cellErr, &mf):
			failures = append(failures, fmt.Errorf("nginx %s: %w", v, cellErr))
		case cellErr != nil:
			failures = append(failures, fmt.Errorf("build against nginx %s: %w", v, cellErr))
		}
	}
	return errors.Join(failures...)
}

// newBuilder reads the config and modules, installs the build
// dependencies when asked, and asks the machine for its compiler.
func newBuilder(ctx context.Context, o *buildOptions, d *Deps) (*builder, error) {
	cfg, err := o.config.load(d)
	if err != nil {
		return nil, err
	}
	if len(o.modules) > 0 {
		// The operator's form: the modules named here, whatever a config
		// in this directory names (its other settings still apply).
		if cfg.Modules, err = config.ModuleSpecs(d.Dir, o.modules); err != nil {
			return nil, err
		}
	}
	if len(cfg.Modules) == 0 {
		return nil, &config.Error{File: configName(cfg), Msg: "no modules to build: name them with --module git:URL@REF (or a directory), add modules: [{path: ...}] to " +
			config.DefaultPath + ", or run in a module's directory (one with an nginx module config file)"}
	}
	if err := testsDeclared(o.test, cfg); err != nil {
		return nil, err
	}
	if err := o.sourceFrom(cfg, d); err != nil {
		return nil, err
	}
	b := &builder{o: o, d: d, cfg: cfg, log: &cell.Log{W: d.Stderr, Actions: d.Workflow.On(), Now: d.Now}}
	if o.installDeps {
		// Before the modules are fetched: a git: module needs git (and the
		// CA certificates an https clone checks).
		var extra []string
		for _, m := range cfg.Modules {
			if m.Git != "" {
				extra = []string{"git", "ca-certificates"}
			}
		}
		if b.host, err = installBuildDeps(ctx, d, o.versions, extra...); err != nil {
			return nil, err
		}
	}
	if b.mods, err = modsrc.Resolve(ctx, cfg, o.cache, o.out); err != nil {
		return nil, err
	}
	outsideRepo(d, cfg, b.mods)
	o.packages = o.packages || cfg.Packages.Enabled
	if o.packages {
		var ok bool
		if b.pkgDistro, ok = cellDistro(cfg, o.distro); !ok {
			return nil, usagef("build: --packages needs a known distro (%s, or a custom one in the config), not %q", distro.Names(), o.distro)
		}
	}

	if b.compiler, err = d.Machine.Compiler(ctx); err != nil {
		// Each cell still runs and records configure's own words on the
		// missing compiler in its manifest.
		d.logf("warning: %v", err)
		b.compiler = machine.Compiler{Version: "unknown (" + err.Error() + ")"}
	}
	if b.keyring, err = source.NewKeyring("", d.HTTP); err != nil {
		return nil, err
	}
	return b, nil
}

// cell builds the modules against nginx v, in a work directory of its
// own, and packages them when asked. cellErr is the cell's failure (in
// its manifest too); err one that stops the whole build.
func (b *builder) cell(ctx context.Context, v string) (cellErr, err error) {
	work, err := os.MkdirTemp("", "nginx-modbuild-"+v+"-")
	if err != nil {
		return nil, err
	}
	if b.o.keepWork {
		defer fmt.Fprintf(b.d.Stderr, "work directory kept: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	o, err := b.options(ctx, v, work)
	if err != nil {
		return nil, err
	}
	res, cellErr := cell.Run(ctx, o)
	if errors.Is(cellErr, cell.ErrInterrupted) {
		return cellErr, nil
	}
	if b.d.Workflow.On() {
		annotate(b.d, res.Diagnostics, b.mods)
		for _, c := range res.Manifest.Cells {
			annotateTests(b.d, c, b.mods)
		}
	}
	testsSummary(b.d.Summary, res.Manifest.Cells)
	if b.o.packages && len(res.Manifest.Cells) > 0 && len(res.Manifest.Entries) > 0 {
		mtime := b.d.Now().UTC().Truncate(time.Second)
		if perr := packageCell(b.d.Stderr, b.cfg, b.pkgDistro, b.mods, b.o.out, &res.Manifest, mtime); perr != nil {
			return nil, fmt.Errorf("package the nginx %s builds: %w", v, perr)
		}
	}
	for _, f := range res.Files {
		fmt.Fprintln(b.d.Stdout, f)
	}
	return cellErr, nil
}

// options are the compile options of the nginx v cell.
func (b *builder) options(ctx context.Context, v, work string) (cell.Options, error) {
	o := cell.Options{
		Nginx: v, Plus: plus.Embedded().ForBase(v), Distro: b.o.distro, Arch: b.o.arch,
		Configure: b.cfg.Configure, NoCompat: b.o.noCompat, WorkDir: work, Out: b.o.out, Jobs: b.o.jobs,
		Log: b.log, Now: b.d.Now, Compiler: b.compiler, LogURL: b.d.Workflow.LogURL(),
		Source: source.Options{Mirror: b.o.mirror, CacheDir: b.o.cache, SHA256: b.cfg.Nginx.SHA256,
			InsecureSkipVerify: b.o.insecure, Keyring: b.keyring, HTTP: b.d.HTTP},
	}
	for _, m := range b.mods {
		o.Modules = append(o.Modules, cell.Module{ID: m.ID, Dir: m.Dir, Commit: m.Commit, Identity: m.Identity,
			Env: m.Entry.Env, Libs: m.Entry.Libs, Packages: m.Entry.Packages, Requires: m.Entry.Requires, Test: m.Entry.Test, NoRelease: m.Entry.NoRelease})
	}
	if b.o.incremental {
		o.Incremental = absIn(b.d.Dir, filepath.Join(b.o.cache, "cells"))
		o.PackageState = b.d.Machine.PackageState
	}
	if b.o.test {
		o.Tests = &cell.Tests{Env: testEnv(b.d)}
		if b.o.testNginx != "" {
			o.Tests.PerlLib = []string{b.o.testNginx}
		}
	}
	if d, ok := distro.Lookup(b.o.distro); ok {
		o.Family = d.Family
	}
	if b.o.installDeps {
		o.Family = b.host.Family
		o.Packages = &sysdeps.Installer{Distro: b.host, Run: sysdeps.Exec, Log: b.d.Stderr}
		o.Files = &sysdeps.FileIndex{Distro: b.host, Run: sysdeps.Exec, Log: o.Log, Dir: work}
	}
	var err error
	if o.Target, err = b.targetFor(ctx, v); err != nil {
		return o, err
	}
	if err := b.sourceOptions(ctx, &o); err != nil {
		return o, err
	}
	if o.Target != "" && o.Signature == "" {
		// The target judges: nginx loads only its own signature.
		if f, err := modinfo.Open(o.Target); err == nil && f.Signature != "" {
			o.Signature = f.Signature
		}
	}
	if b.o.smoke {
		o.Smoke = &cell.Smoke{Config: b.cfg.Smoke.Config, Request: b.cfg.Smoke.Request}
		// The smoke nginx depends on the nginx version, configure's
		// output, the compiler, distro and arch, not on the modules:
		// built once, kept under the cache directory.
		o.SmokeCache = filepath.Join(b.o.cache, "smoke-nginx")
	}
	return o, nil
}

// testNginxLib is the directory holding Test/Nginx/Socket.pm: dir
// itself, or its lib/ (a checkout or an unpacked CPAN distribution).
func testNginxLib(dir string) (string, error) {
	for _, lib := range []string{filepath.Join(dir, "lib"), dir} {
		if _, err := os.Stat(filepath.Join(lib, "Test", "Nginx", "Socket.pm")); err == nil {
			return lib, nil
		}
	}
	return "", fmt.Errorf("%s holds no Test/Nginx/Socket.pm (nor does its lib/): give a Test::Nginx checkout (github.com/openresty/test-nginx) or its lib directory", dir)
}

// testEnv is the environment a module's tests start from: modenv's
// allowlist, never the run's tokens or keys (a pull request's tests are
// its author's code).
func testEnv(d *Deps) []string { return modenv.Env(d.Getenv) }

// annotate turns compiler messages about module sources into GitHub
// annotations, with paths relative to the repository.
func annotate(d *Deps, diags []cell.Diagnostic, mods []modsrc.Source) {
	for _, diag := range diags {
		inModule := false
		for _, m := range mods {
			if strings.HasPrefix(diag.File, m.Dir+"/") {
				inModule = true
			}
		}
		if !inModule {
			continue
		}
		file := diag.File
		if rel, err := filepath.Rel(d.Dir, diag.File); err == nil && !strings.HasPrefix(rel, "..") {
			file = rel
		}
		d.Workflow.Annotate(diag.Severity, map[string]string{"file": file, "line": strconv.Itoa(diag.Line), "col": strconv.Itoa(diag.Column)}, diag.Message)
	}
}

// cellDistro is the distro a cell builds for: the config's entry of that
// name (with its packaged nginx), else the built-in one.
func cellDistro(cfg *config.Config, name string) (distro.Distro, bool) {
	for _, d := range cfg.Distros {
		if d.Name == name {
			return d, true
		}
	}
	return distro.Lookup(name)
}

// installBuildDeps installs what building any module against versions
// needs here (compiler, make, nginx's libraries) and returns this
// machine's distro; the libraries of the modules are installed by the
// build, which knows what their configs probe for.
func installBuildDeps(ctx context.Context, d *Deps, versions []string, extra ...string) (distro.Distro, error) {
	host, err := d.Machine.Distro()
	if err != nil {
		return distro.Distro{}, fmt.Errorf("install-deps: %w: install a C compiler, make and the PCRE, zlib and OpenSSL headers yourself", err)
	}
	legacy := false
	pcre2, _ := nginxver.Parse("1.21.5") // the first nginx that builds with PCRE2
	for _, v := range versions {
		if pv, err := nginxver.Parse(v); err == nil && pv.LessThan(pcre2) {
			legacy = true
		}
	}
	in := &sysdeps.Installer{Distro: host, Run: sysdeps.Exec, Log: d.Stderr}
	return host, in.Install(ctx, append(sysdeps.Packages(host, legacy, nil), extra...))
}
