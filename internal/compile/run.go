// Package compile compiles nginx dynamic modules against an exact nginx
// version, the way NGINX's upgrade guide does by hand (configure
// --with-compat --add-dynamic-module, make modules), verified, in one
// configure for all modules, with every module's result reported.
package compile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/modconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/source"
)

// Module is a module source ready to build.
type Module struct {
	// ID names the source as the config does (path or git URL).
	ID string
	// Dir is the absolute directory holding its config file.
	Dir string
	// Commit is the source commit, when known.
	Commit string
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
	// Smoke, when not nil, builds the nginx binary too and proves the
	// modules load (and answer Smoke.Request).
	Smoke *Smoke
	Log   *Log
	Now   func() time.Time
}

// Result is what a cell produced.
type Result struct {
	Manifest    manifest.Manifest
	Diagnostics []Diagnostic
	// Files are the built .so paths, in load order.
	Files []string
}

// ModulesFailed reports modules that did not build; the others did.
type ModulesFailed struct {
	Failures []manifest.Failure
}

func (e *ModulesFailed) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d module(s) failed to build:", len(e.Failures))
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %s (%s): %s", f.Module, f.Source, strings.ReplaceAll(f.Error, "\n", "\n    "))
	}
	return b.String()
}

// prepared is a module after analysis, maybe converted.
type prepared struct {
	Module
	dir string // what configure gets: Dir, or the converted copy
	cfg *modconf.Config
}

type cell struct {
	o       Options
	c       manifest.Cell
	failed  []manifest.Failure
	logs    strings.Builder
	entries []manifest.Entry
	files   []string
}

// Run builds one cell. A module that fails is reported in a
// *ModulesFailed error while every other module's .so is still produced;
// any other error means the cell as a whole failed.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &cell{o: o, c: manifest.Cell{Nginx: o.Nginx, Plus: o.Plus, Distro: o.Distro, Arch: o.Arch, Seconds: map[string]float64{}}}
	res, err := b.run(ctx)
	if err != nil {
		return res, err
	}
	if len(b.failed) > 0 {
		return res, &ModulesFailed{Failures: b.failed}
	}
	return res, nil
}

func (b *cell) phase(name string, f func() error) error {
	end := b.o.Log.Phase(name)
	err := f()
	b.c.Seconds[strings.Fields(name)[0]] += end().Seconds()
	return err
}

func (b *cell) fail(m Module, name, why string) {
	if name == "" {
		name = filepath.Base(m.Dir)
	}
	b.failed = append(b.failed, manifest.Failure{Module: name, Source: m.ID, Error: why})
	b.o.Log.Printf("FAILED %s: %s", name, firstLine(why))
}

func (b *cell) run(ctx context.Context) (Result, error) {
	o := b.o
	var res Result
	var tb source.Tarball
	if err := b.phase("fetch nginx "+o.Nginx, func() (err error) {
		tb, err = source.Fetch(ctx, o.Source, o.Nginx)
		if err == nil {
			o.Log.Printf("nginx-%s.tar.gz sha256 %s: %s", o.Nginx, tb.SHA256, tb.Verified)
			if tb.Verified == "NOT VERIFIED" {
				o.Log.Printf("WARNING: building from an UNVERIFIED nginx source tarball (--insecure-skip-verify)")
			}
		}
		return err
	}); err != nil {
		return res, err
	}
	b.c.SourceSHA256, b.c.Verified = tb.SHA256, tb.Verified

	var root string
	if err := b.phase("extract", func() error {
		f, err := os.Open(tb.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		root, err = source.Extract(f, filepath.Join(o.WorkDir, "src"))
		return err
	}); err != nil {
		return res, fmt.Errorf("nginx %s: %w", o.Nginx, err)
	}

	var mods []prepared
	if err := b.phase("analyze module configs", func() (err error) {
		mods, err = b.prepare()
		return err
	}); err != nil {
		return res, err
	}
	b.c.Compiler = compiler(ctx)

	var groups []group
	if err := b.phase("configure", func() (err error) {
		groups, err = b.configure(ctx, root, mods)
		return err
	}); err != nil {
		return res, err
	}

	makeLog := ""
	b.phase("make modules", func() error {
		for _, g := range groups {
			out, _ := run(ctx, root, MakeArgs(g.builddir, o.Jobs, "modules"))
			makeLog += out
		}
		return nil
	})
	res.Diagnostics = ParseDiagnostics(makeLog)

	if err := b.phase("collect", func() error { return b.collect(groups, makeLog, res.Diagnostics) }); err != nil {
		return res, err
	}
	res.Files = b.files

	if o.Smoke != nil && len(b.files) > 0 {
		if err := b.phase("smoke test", func() error { return b.smoke(ctx, root, groups[0].builddir) }); err != nil {
			return res, fmt.Errorf("smoke test against nginx %s: %w", o.Nginx, err)
		}
	}
	b.c.Failures = b.failed
	res.Manifest = manifest.Manifest{Schema: manifest.Schema, Entries: b.entries, Cells: []manifest.Cell{b.c}}
	if err := writeJSON(filepath.Join(o.Out, manifest.CellFileName(o.Nginx, o.Distro, o.Arch)), res.Manifest); err != nil {
		return res, err
	}
	return res, nil
}

// prepare analyses every module, converts old-style configs and orders
// them for configure.
func (b *cell) prepare() ([]prepared, error) {
	var ok []prepared
	var cfgs []*modconf.Config
	for i, m := range b.o.Modules {
		c, err := modconf.Analyze(m.Dir)
		if err != nil {
			b.fail(m, "", err.Error())
			continue
		}
		p := prepared{Module: m, dir: m.Dir, cfg: c}
		if c.Style == modconf.OldStyle {
			p.dir = filepath.Join(b.o.WorkDir, "converted", fmt.Sprintf("%d-%s", i, filepath.Base(m.Dir)))
			if err := modconf.Convert(m.Dir, p.dir); err != nil {
				b.fail(m, c.Names()[0], err.Error())
				continue
			}
			b.o.Log.Printf("%s: old-style config (no ngx_module_type): building a converted copy", c.Names()[0])
		}
		ok = append(ok, p)
		cfgs = append(cfgs, c)
	}
	order, err := modconf.Order(cfgs)
	if err != nil {
		return nil, err
	}
	out := make([]prepared, len(order))
	for i, j := range order {
		out[i] = ok[j]
	}
	return out, nil
}

type group struct {
	builddir string
	mods     []prepared
	makefile Makefile
}

func dirsOf(mods []prepared) []string {
	var out []string
	for _, m := range mods {
		out = append(out, m.dir)
	}
	return out
}

// configure runs configure for all modules at once; a module whose config
// makes configure fail is dropped (and reported) and configure re-run.
// When modules collide on object paths they are split into groups, each
// configured into a build directory of its own.
func (b *cell) configure(ctx context.Context, root string, mods []prepared) ([]group, error) {
	g, err := b.configureGroup(ctx, root, filepath.Join(b.o.WorkDir, "objs"), mods)
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
	var cfgs []*modconf.Config
	for _, m := range g.mods {
		cfgs = append(cfgs, m.cfg)
	}
	needs := modconf.Deps(cfgs)
	split, err := Split(dirsOf(g.mods), collisions, needs)
	if err != nil {
		return nil, err
	}
	var groups []group
	for n, idx := range split {
		var sub []prepared
		for _, i := range idx {
			sub = append(sub, g.mods[i])
		}
		sg, err := b.configureGroup(ctx, root, filepath.Join(b.o.WorkDir, fmt.Sprintf("objs-%d", n+1)), sub)
		if err != nil {
			return nil, err
		}
		groups = append(groups, sg)
	}
	return groups, nil
}

func (b *cell) configureGroup(ctx context.Context, root, builddir string, mods []prepared) (group, error) {
	for {
		args := ConfigureArgs(builddir, b.o.NoCompat, b.o.Configure, dirsOf(mods))
		b.c.Configure = args[1:]
		out, err := run(ctx, root, args)
		if err == nil {
			mf, rerr := os.ReadFile(filepath.Join(builddir, "Makefile"))
			if rerr != nil {
				return group{}, rerr
			}
			return group{builddir: builddir, mods: mods, makefile: ParseMakefile(string(mf))}, nil
		}
		if ctx.Err() != nil {
			return group{}, ctx.Err()
		}
		culprit := ConfigureCulprit(out, dirsOf(mods))
		if culprit == "" {
			return group{}, fmt.Errorf("configure nginx %s failed:\n%s", b.o.Nginx, tail(out, 25))
		}
		var rest []prepared
		for _, m := range mods {
			if m.dir == culprit {
				b.fail(m.Module, m.cfg.Names()[0], "configure failed in its config:\n"+tail(out[strings.LastIndex(out, "adding module in "+culprit):], 15))
				continue
			}
			rest = append(rest, m)
		}
		mods = rest
		if len(mods) == 0 {
			return group{builddir: builddir}, nil
		}
	}
}

// collect copies each built .so under its version-named file, and reports
// every module that produced none, with the compiler's messages about it.
func (b *cell) collect(groups []group, makeLog string, diags []Diagnostic) error {
	if err := os.MkdirAll(b.o.Out, 0o755); err != nil {
		return err
	}
	for _, g := range groups {
		for _, m := range g.mods {
			for _, so := range m.cfg.SOs {
				built := filepath.Join(g.builddir, so.Name+".so")
				if !slices.Contains(g.makefile.SOs, built) {
					b.fail(m.Module, so.Name, "configure declared no .so for it: nginx builds nothing for this module with --add-dynamic-module")
					continue
				}
				data, err := os.ReadFile(built)
				if err != nil {
					b.fail(m.Module, so.Name, "did not compile:\n"+excerpt(m, so.Name, makeLog, diags))
					continue
				}
				name := manifest.FileName(so.Name, b.o.Nginx)
				dst := filepath.Join(b.o.Out, name)
				if err := os.WriteFile(dst, data, 0o755); err != nil {
					return err
				}
				sum := sha256.Sum256(data)
				b.entries = append(b.entries, manifest.Entry{
					Module: so.Name, Source: m.ID, Commit: m.Commit, Nginx: b.o.Nginx, Plus: b.o.Plus,
					Distro: b.o.Distro, Arch: b.o.Arch, File: name, SHA256: hex.EncodeToString(sum[:]),
					Signature: Signature(data), BuiltAt: b.o.Now().UTC().Format(time.RFC3339),
				})
				b.files = append(b.files, dst)
				b.o.Log.Printf("built %s", name)
			}
		}
	}
	return nil
}

var signature = regexp.MustCompile(`\b\d+,\d+,\d+,[01]{30,}\b`)

// Signature finds nginx's module signature string (NGX_MODULE_SIGNATURE,
// e.g. "8,4,8,0011111111010111001111111111111111") in a built module.
func Signature(data []byte) string {
	return string(signature.Find(data))
}

// excerpt is what the compiler said about a module: its error lines, or
// failing that the end of make's output that mentions it.
func excerpt(m prepared, so, makeLog string, diags []Diagnostic) string {
	var lines []string
	for _, d := range diags {
		if d.Severity == "error" && (strings.HasPrefix(d.File, m.dir+"/") || strings.HasPrefix(d.File, m.Dir+"/")) {
			lines = append(lines, fmt.Sprintf("%s:%d:%d: error: %s", d.File, d.Line, d.Column, d.Message))
		}
	}
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("... and %d more errors", len(lines)-10))
	}
	if len(lines) == 0 {
		for _, l := range strings.Split(makeLog, "\n") {
			if strings.Contains(l, so) || strings.Contains(l, m.dir) {
				lines = append(lines, l)
			}
		}
		if len(lines) > 10 {
			lines = lines[len(lines)-10:]
		}
	}
	return strings.Join(lines, "\n")
}

// run runs argv in dir and returns its combined output.
func run(ctx context.Context, dir string, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return out.String(), err
}

func compiler(ctx context.Context) string {
	out, err := run(ctx, ".", []string{"cc", "--version"})
	if err != nil {
		return "unknown (cc --version failed)"
	}
	return firstLine(out)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
