package cell

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/lines"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

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

// prepare reads every module's config files for hints and orders the
// modules for configure: after the modules whose variables or switches
// their configs read, and after the modules they require; otherwise as
// given. Reading never decides what gets built; only a missing config
// file fails a module here.
func (b *builder) prepare() []prepared {
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
			names = append(names, p.Name)
		}
		b.o.Log.Printf("configure order: %s", strings.Join(names, ", "))
	}
	return out
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
func (b *builder) configure(ctx context.Context, root string, mods []prepared) ([]group, error) {
	g, err := b.configureGroup(ctx, root, filepath.Join(b.tree, "objs"), mods)
	if err != nil || len(g.mods) == 0 {
		return nil, err
	}
	collisions := g.makefile.Collisions(dirsOf(g.mods))
	for obj, dirs := range collisions {
		b.o.Log.Printf("object collision: %s would be compiled from %s: splitting into separate configure runs", obj, strings.Join(dirs, " and "))
	}
	deps := macroTies(g, modconf.HintDeps(hintsOf(g.mods)))
	flagged := b.flagCollisions(g, deps)
	if len(collisions) == 0 && len(flagged) == 0 {
		return []group{g}, nil
	}
	split, err := Split(dirsOf(g.mods), mergeCollisions(collisions, flagged), deps)
	if err != nil && len(flagged) > 0 {
		b.o.Log.Printf("keeping the global flags' modules together: %v", err)
		split, err = Split(dirsOf(g.mods), collisions, deps)
	}
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

// flagCollisions records, in the cell, each config that changed nginx's
// global flags (CFLAGS, NGX_LD_OPT: every module's objects and links) or
// made every addon object depend on a target make builds (ADDON_DEPS),
// and keeps its module apart from every module it is not connected to by
// configure-time needs (the NDK with set-misc and lua, whose -D flags the
// NDK is built with, stay together): a module's result is its own, not
// what another's -Wno-deprecated-declarations let through.
func (b *builder) flagCollisions(g group, deps [][]int) map[string][]string {
	comp := components(len(g.mods), deps)
	out := map[string][]string{}
	for k, m := range g.mods {
		d := g.record[m.index]
		if d == nil {
			continue
		}
		change := d.globalChange()
		if made := d.madeDeps(g.makefile); len(made) > 0 {
			// Every addon object waits for these: when make fails to build
			// them (cargo without its toolchain or registry), no object of
			// any module configured with it compiles.
			change = strings.TrimPrefix(change+"; ADDON_DEPS += "+strings.Join(made, " ")+" (built by make)", "; ")
		}
		if change == "" {
			continue
		}
		b.c.GlobalFlags = append(b.c.GlobalFlags, manifest.FlagChange{Module: m.Name, Source: m.ID, Change: change})
		var apart []string
		for j, o := range g.mods {
			if comp[j] != comp[k] {
				out["global flags of "+m.Dir+" and "+o.Dir] = []string{m.Dir, o.Dir}
				apart = append(apart, o.Name)
			}
		}
		if len(apart) > 0 {
			b.o.Log.Printf("%s: its config changes nginx's global flags (%s), which reach every module configured with it: configured apart from %s",
				m.Name, change, strings.Join(apart, ", "))
		} else {
			b.o.Log.Printf("%s: its config changes nginx's global flags (%s)", m.Name, change)
		}
	}
	return out
}

// preprocessorTest is a preprocessor conditional line.
var preprocessorTest = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*(?:if|ifdef|ifndef|elif)\b.*$`)

// macroTies adds to deps the ties global -D flags make: a config that
// appends -DX to CFLAGS (lua's and set-misc's -DNDK_SET_VAR) means it for
// every module whose sources test X (the NDK's #if (NDK_SET_VAR)). Kept
// apart, the NDK would be built without what they call. Each module's
// sources are read once, however many configs add -D flags.
func macroTies(g group, deps [][]int) [][]int {
	out := make([][]int, len(g.mods))
	for i := range out {
		if i < len(deps) {
			out[i] = slices.Clone(deps[i])
		}
	}
	conds := map[string][][]byte{} // module dir -> its preprocessor conditionals
	for k, m := range g.mods {
		d := g.record[m.index]
		if d == nil {
			continue
		}
		macros := addedMacros(d.Flags["CFLAGS"])
		if len(macros) == 0 {
			continue
		}
		for j, o := range g.mods {
			if j == k || slices.Contains(out[k], j) {
				continue
			}
			c, ok := conds[o.Dir]
			if !ok {
				c = conditionals(o.Dir)
				conds[o.Dir] = c
			}
			if testsAny(c, macros) {
				out[k] = append(out[k], j)
			}
		}
	}
	return out
}

// addedMacros are the names of the -D flags a config appended to CFLAGS
// (before and after it ran).
func addedMacros(ba [2]string) []string {
	before := strings.Fields(ba[0])
	var out []string
	for _, f := range strings.Fields(ba[1]) {
		if name, ok := strings.CutPrefix(f, "-D"); ok && !slices.Contains(before, f) {
			name, _, _ = strings.Cut(name, "=")
			if name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// conditionals are the preprocessor conditional lines of the C/C++
// sources and headers under dir (its tests and .git left out).
func conditionals(dir string) [][]byte {
	var out [][]byte
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case e.IsDir():
			if n := e.Name(); n == ".git" || n == "t" || n == "test" || n == "tests" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".c", ".h", ".cc", ".cpp", ".hpp", ".hh":
			if b, err := userfile.Read(p, 4<<20); err == nil {
				out = append(out, preprocessorTest.FindAll(b, -1)...)
			}
		}
		return nil
	})
	return out
}

// testsAny tells whether one of lines names one of macros.
func testsAny(lines [][]byte, macros []string) bool {
	for _, m := range macros {
		w := regexp.MustCompile(`\b` + regexp.QuoteMeta(m) + `\b`)
		for _, l := range lines {
			if w.Match(l) {
				return true
			}
		}
	}
	return false
}

// components numbers the modules by the groups configure-time needs
// connect (either way, transitively).
func components(n int, deps [][]int) []int {
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	c := 0
	for i := range n {
		if comp[i] >= 0 {
			continue
		}
		stack := []int{i}
		comp[i] = c
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for y := range n {
				linked := (x < len(deps) && slices.Contains(deps[x], y)) || (y < len(deps) && slices.Contains(deps[y], x))
				if linked && comp[y] < 0 {
					comp[y] = c
					stack = append(stack, y)
				}
			}
		}
		c++
	}
	return comp
}

// mergeCollisions is a and b in one map.
func mergeCollisions(a, b map[string][]string) map[string][]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string][]string{}
	}
	maps.Copy(out, b)
	return out
}

// configureGroup runs configure until it succeeds: a module whose config
// fails is dropped and reported (after installing a missing library once,
// with --install-deps), and when a config turned on a switch that an
// earlier config had read as off, configure runs again with it first.
func (b *builder) configureGroup(ctx context.Context, root, builddir string, mods []prepared) (group, error) {
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
		if why := b.streamFor(b.o.Configure); why != "" && attempt == 0 {
			b.o.Log.Printf("%s: configuring --with-stream=dynamic (nginx's stream module as a .so, loaded first; the target nginx must have stream)", why)
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
			if mods, err = b.dropSwitchCulprits(ctx, out, g, triedSwitch); err != nil {
				return group{}, err
			}
			continue
		}
		mods = b.dropCulprit(ctx, out, g, culprit)
	}
}

// dropSwitchCulprits handles a configure that failed in nginx's probe for
// a library a module's config turned on: with --install-deps it installs
// the library once and keeps every module; otherwise the modules that
// turned it on fail, and the others are returned to configure again.
func (b *builder) dropSwitchCulprits(ctx context.Context, out string, g group, tried map[string]bool) ([]prepared, error) {
	mods := g.mods
	sw, blamed := switchCulprits(out, mods, g.record)
	if len(blamed) == 0 {
		return nil, fmt.Errorf("configure nginx %s failed (not in a module's config):\n%s", b.o.Nginx, lines.Last(out, 25))
	}
	lib, _ := sysdeps.SwitchLibrary(sw)
	if b.o.Packages != nil && !tried[sw] {
		tried[sw] = true
		if b.installSwitch(ctx, lib) {
			return mods, nil
		}
	}
	var names []string
	family := cmp.Or(b.o.Family, distro.Apt)
	pkg := strings.Join(lib.Packages[family], " or ")
	for _, k := range blamed {
		m := mods[k]
		names = append(names, m.Name)
		b.fail(m.Module, "", manifest.PhaseConfigure, fmt.Sprintf("%s\nits config asks nginx to link %s (ngx_module_libs), and nginx's configure did not find %s. Install %s on %s (nginx-modbuild build --install-deps does), or declare it in the module's entry: packages: {%s: [%s]}",
			configureError(out), sw, lib.Name, pkg, b.o.Distro, family, lib.Packages[family][0]))
	}
	b.o.Log.Printf("configure failed in nginx's %s probe, which %s turned on: configuring again without it", sw, strings.Join(names, ", "))
	var rest []prepared
	for k, m := range mods {
		if !slices.Contains(blamed, k) {
			rest = append(rest, m)
		}
	}
	return rest, nil
}

// dropCulprit handles a configure that stopped in one module's config
// (its wrapper): with --install-deps, a library its probes did not find
// is installed and the module kept; otherwise it fails with what its
// probes and the package index said. The modules to configure again are
// returned.
func (b *builder) dropCulprit(ctx context.Context, out string, g group, culprit string) []prepared {
	var rest []prepared
	for k, m := range g.mods {
		if g.wrappers[k] != culprit {
			rest = append(rest, m)
			continue
		}
		probes := FailedProbes(readFile(filepath.Join(g.builddir, "autoconf.err")), m.index)
		if b.o.Packages != nil && b.installMissing(ctx, m, probes) {
			rest = append(rest, m) // try again with the library installed
			continue
		}
		shown := configureOutput(out, culprit)
		if b.o.Packages != nil && b.installFoundPackages(ctx, b.packagesFor(ctx, m, missingCommands(shown))) {
			rest = append(rest, m) // try again with the tool installed
			continue
		}
		// The config's last words are where it stopped (naxsi's "Cannot
		// find 'libinjection' submodule."), not the noise before them
		// (pkg-config's "not found" for the library it tried first).
		msg := "configure stopped in its config: " + strings.TrimSpace(lines.Last(strings.TrimSpace(shown), 1)) + "\n" + shown
		if r := probeReport(probes, b.o.Family, b.o.Distro, m.ID); r != "" {
			msg += "\n" + r
		}
		for _, u := range b.unresolved[m.Dir] {
			msg += "\n" + u
		}
		b.fail(m.Module, "", manifest.PhaseConfigure, msg)
	}
	return rest
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
					return out, fmt.Sprintf("%s turns on %s, which %s's config had read as off", mods[j].Name, v, m.Name)
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
