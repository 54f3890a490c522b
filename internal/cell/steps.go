package cell

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/filetree"
)

// A step is one part of a cell, run in order by run. The rule every
// step keeps: it returns an error only when the whole cell fails (every
// module with it); one module's failure goes through builder.fail, and
// the next steps go on with the others.
type step struct {
	// name is the key of its seconds in the cell manifest.
	name string
	// phase is what a failure of the whole cell during it is.
	phase manifest.Phase
	// title is its log group; "" runs it outside one, untimed (a step of
	// one log line, or one that opens a group per module itself).
	title string
	// skip, when set, says the step has nothing to do in this cell.
	skip func(*flow) bool
	do   func(context.Context, *flow) error
}

// flow is what the steps hand on, each field set by the step named
// beside it and read by the ones after it.
type flow struct {
	tarball source.Tarball // fetch: the nginx source
	mods    []prepared     // read (deps drops those whose packages fail)
	warm    bool           // reuse: the kept tree for these inputs is this cell's
	unlock  func()         // reuse: releases the kept tree's lock
	root    string         // extract (or reuse): the nginx source tree
	groups  []group        // configure (or reuse): the configured build directories
	// smokeKey names the smoke nginx in the smoke cache; cached says it
	// was restored from it (smoke-cache).
	smokeKey string
	cached   bool
	makeLog  string       // make
	diags    []Diagnostic // make: the compiler's diagnostics
	sos      []*linked    // collect, then check and smoke keep those that pass
	nginx    string       // test: the nginx the modules' suites ran against
}

// steps is the cell, in order.
func (b *builder) steps() []step {
	o := b.o
	warm := func(f *flow) bool { return f.warm }
	return []step{
		{name: "fetch", phase: manifest.PhaseFetch, title: "fetch nginx " + o.Nginx, do: b.fetch},
		{name: "read", phase: manifest.PhaseConfigure, title: "read module configs", do: b.read},
		{name: "deps", phase: manifest.PhaseDeps, title: "deps", skip: func(*flow) bool { return o.Packages == nil }, do: b.deps},
		{name: "reuse", phase: manifest.PhaseConfigure, skip: func(*flow) bool { return o.Incremental == "" }, do: b.reuse},
		{name: "extract", phase: manifest.PhaseFetch, title: "extract", skip: warm, do: b.extract},
		{name: "configure", phase: manifest.PhaseConfigure, title: "configure", skip: warm, do: b.configureStep},
		{name: "keep", phase: manifest.PhaseConfigure, skip: func(f *flow) bool { return f.warm || o.Incremental == "" }, do: b.keepStep},
		{name: "smoke-cache", phase: manifest.PhaseCompile, skip: func(f *flow) bool {
			return o.Smoke == nil || o.SmokeCache == "" || f.warm || len(f.groups) == 0 || b.judgedByTarget()
		}, do: b.smokeCacheStep},
		{name: "make", phase: manifest.PhaseCompile, title: "make modules", do: b.makeStep},
		{name: "store-smoke", phase: manifest.PhaseCompile, skip: func(f *flow) bool { return f.smokeKey == "" || f.cached }, do: b.storeSmokeStep},
		{name: "collect", phase: manifest.PhaseCompile, title: "collect", do: b.collectStep},
		{name: "check", phase: manifest.PhaseSymbols, title: "check symbols", do: b.checkStep},
		{name: "smoke", phase: manifest.PhaseSmoke, title: "smoke test", skip: func(f *flow) bool { return o.Smoke == nil || len(f.sos) == 0 }, do: b.smokeStep},
		{name: "write", phase: manifest.PhaseCompile, title: "write", do: b.writeStep},
		{name: "test", phase: manifest.PhaseTest, skip: func(f *flow) bool { return o.Tests == nil || o.Smoke == nil || len(f.sos) == 0 }, do: b.testStep},
		{name: "record", phase: manifest.PhaseCompile, do: b.record},
	}
}

// run runs the cell's steps in order: each in its log group, timed, its
// phase the cell's while it runs. It stops at the first step that fails
// the cell, or when the context is cancelled (what a killed step left
// is no one's failure).
func (b *builder) run(ctx context.Context) (*flow, error) {
	f := &flow{unlock: func() {}}
	defer func() { f.unlock() }()
	for _, s := range b.steps() {
		if s.skip != nil && s.skip(f) {
			continue
		}
		b.stage = s.phase
		err := b.timed(s.name, s.title, func() error { return s.do(ctx, f) })
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// timed runs fn in a log group, adding its seconds to the cell
// manifest's under name; with no title, outside one, untimed.
func (b *builder) timed(name, title string, fn func() error) error {
	if title == "" {
		return fn()
	}
	end := b.o.Log.Phase(title)
	err := fn()
	b.c.Seconds[name] += end().Seconds()
	return err
}

// fetch: the nginx source, nginx.org's tarball verified, or the tree the
// target binary was built from (Options.Tree).
func (b *builder) fetch(ctx context.Context, f *flow) (err error) {
	o := b.o
	if o.Tree != "" {
		f.tarball, err = treeSource(o.Tree, o.TreeWhat, o.Nginx)
		if err == nil {
			o.Log.Printf("nginx %s: from %s (%s), not nginx.org's tarball", o.Nginx, o.TreeWhat, o.Tree)
		}
	} else {
		f.tarball, err = source.Fetch(ctx, o.Source, o.Nginx)
		if err == nil {
			o.Log.Printf("nginx-%s.tar.gz sha256 %s: %s", o.Nginx, f.tarball.SHA256, f.tarball.Verified)
			if f.tarball.Proof == source.Unverified {
				o.Log.Printf("WARNING: building from an UNVERIFIED nginx source tarball (--insecure-skip-verify)")
			}
		}
	}
	b.c.SourceSHA256, b.c.Verified = f.tarball.SHA256, f.tarball.Verified
	return err
}

// read: every module's config files, for hints and the configure order.
func (b *builder) read(_ context.Context, f *flow) error {
	f.mods = b.prepare()
	b.c.Compiler = b.o.Compiler.Version
	return nil
}

// deps: the packages the modules' configs hint at and declare, and their
// tests' packages (--install-deps).
func (b *builder) deps(ctx context.Context, f *flow) (err error) {
	f.mods, err = b.installHinted(ctx, f.mods)
	b.installTestPackages(ctx)
	b.installTargetStream(ctx)
	return err
}

// reuse: with Options.Incremental, the tree configured for exactly these
// inputs before (then extract and configure are skipped), or a fresh
// kept directory to build in. A tree that cannot be kept builds from
// clean in WorkDir.
func (b *builder) reuse(_ context.Context, f *flow) error {
	warm, root, groups, unlock, err := b.warm(f.mods, f.tarball.SHA256)
	f.unlock = unlock
	if err != nil {
		b.o.Log.Printf("incremental: %v: building this cell from clean", err)
		b.tree = b.o.WorkDir
		return nil
	}
	f.warm, f.root, f.groups = warm, root, groups
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
	return nil
}

// extract: the nginx source into the cell's tree (a copy of Options.Tree,
// which configure writes into).
func (b *builder) extract(_ context.Context, f *flow) error {
	if b.o.Tree != "" {
		f.root = filepath.Join(b.tree, "src", "nginx-"+b.o.Nginx)
		if err := filetree.Copy(b.o.Tree, f.root, nil); err != nil {
			return fmt.Errorf("nginx %s: %w", b.o.Nginx, err)
		}
		return configureAtTop(f.root)
	}
	r, err := os.Open(f.tarball.Path)
	if err != nil {
		return fmt.Errorf("nginx %s: %w", b.o.Nginx, err)
	}
	defer r.Close()
	f.root, err = source.Extract(r, filepath.Join(b.tree, "src"))
	if err != nil {
		return fmt.Errorf("nginx %s: %w", b.o.Nginx, err)
	}
	return nil
}

// configureStep: one configure for all modules (groups when their objects
// collide); a module whose config fails is dropped and reported.
func (b *builder) configureStep(ctx context.Context, f *flow) (err error) {
	f.groups, err = b.configure(ctx, f.root, f.mods)
	return err
}

// keepStep: a clean incremental cell records its configure for the next.
func (b *builder) keepStep(_ context.Context, f *flow) error {
	b.keep(f.root, f.groups)
	return nil
}

// smokeCacheStep: the smoke nginx built before from the same inputs, so
// make builds only the modules.
func (b *builder) smokeCacheStep(_ context.Context, f *flow) error {
	k, err := smokeKeyOf(f.root, f.groups[0].builddir, b.c)
	if err != nil {
		b.o.Log.Printf("smoke nginx: not cached: %v", err)
		return nil
	}
	var why string
	f.smokeKey = k
	f.cached, why = restoreSmoke(b.o.SmokeCache, k, f.groups[0].builddir, b.o.Nginx)
	switch {
	case f.cached:
		b.o.Log.Printf("smoke nginx: from the cache (%s)", k[:16])
	case why != "":
		b.o.Log.Printf("smoke nginx: the cache entry is refused (%s): building it again", why)
	}
	return nil
}

// makeStep: make modules in every build directory; the first also builds
// the smoke nginx (binary) unless it is there already or the target
// binary judges the cell. A module that does not compile is collect's to
// report.
func (b *builder) makeStep(ctx context.Context, f *flow) error {
	o := b.o
	logs := make([]string, len(f.groups))
	for i, g := range f.groups {
		targets := []string{"modules"}
		// A kept tree has its smoke nginx already (built there, or
		// restored from the smoke cache without nginx's objects, which
		// make would otherwise compile all again): it does not depend on
		// the modules.
		_, kept := os.Stat(filepath.Join(g.builddir, "nginx"))
		if o.Smoke != nil && i == 0 && !f.cached && !(f.warm && kept == nil) && !b.judgedByTarget() {
			// The smoke nginx is built in the same make run, so both keep
			// every core busy.
			targets = append(targets, "binary")
			o.Log.Printf("make: the modules and the smoke nginx (nginx's core: the long part of a cold cell; kept for the later cells of this nginx, distro and compiler)")
		}
		stop := b.progress(g.builddir)
		logs[i], _ = run(ctx, f.root, MakeArgs(g.builddir, o.Jobs, targets...))
		stop()
	}
	f.makeLog = strings.Join(logs, "")
	f.diags = ParseDiagnostics(f.makeLog)
	if o.Packages != nil && o.Files != nil {
		b.makeAgainWithFound(ctx, f, logs)
	}
	return nil
}

// storeSmokeStep: the smoke nginx just built goes into the smoke cache.
func (b *builder) storeSmokeStep(_ context.Context, f *flow) error {
	if err := storeSmoke(b.o.SmokeCache, f.smokeKey, f.groups[0].builddir); err != nil {
		b.o.Log.Printf("smoke nginx: not cached: %v", err)
	}
	return nil
}

// collectStep: every .so configure declared, with the module it is
// from; a module with none, or whose .so did not compile, fails.
func (b *builder) collectStep(_ context.Context, f *flow) error {
	f.sos = b.collect(f.groups, f.makeLog, f.diags)
	return nil
}

// checkStep: the .so files carry the target's signature (--like) and
// every symbol they use resolves in the nginx they load into.
func (b *builder) checkStep(ctx context.Context, f *flow) error {
	f.sos = b.checkSignatures(f.sos)
	f.sos = b.checkSymbols(ctx, f.root, f.groups, f.sos)
	return nil
}

// smokeStep: nginx loads the .so files (and answers the smoke request).
func (b *builder) smokeStep(ctx context.Context, f *flow) error {
	f.sos = b.smoke(ctx, f.groups[0].builddir, f.sos)
	return nil
}

// writeStep: the good .so files into Out under their version names.
func (b *builder) writeStep(_ context.Context, f *flow) error { return b.write(f.sos) }

// testStep: each module's own suite against the nginx the .so files
// loaded into, in a log group per module.
func (b *builder) testStep(ctx context.Context, f *flow) error {
	f.nginx = filepath.Join(f.groups[0].builddir, "nginx")
	if b.judgedByTarget() {
		f.nginx = b.o.Target
	}
	b.tests(ctx, f.nginx, f.root, f.sos)
	return nil
}

// record: the cell manifest, with every entry and failure, and the kept
// tree sealed for the next incremental cell.
func (b *builder) record(_ context.Context, _ *flow) error {
	b.seal()
	b.c.Failures = b.failed
	m := manifest.Manifest{Schema: manifest.Schema, Entries: b.entries, Cells: []manifest.Cell{b.published()}}
	return writeJSON(filepath.Join(b.o.Out, manifest.CellFileName(b.o.Nginx, b.o.Distro, b.o.Arch)), m)
}
