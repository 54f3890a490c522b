package cell

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/ldso"
)

// libraries finds shared libraries the way the toolchain does (cc
// -print-file-name), and caches what each exports.
type libraries struct {
	ctx context.Context
	// loader is the toolchain's dynamic loader (machine.Compiler.Loader).
	loader string
	cache  map[string]map[string]bool
	needs  map[string][]string
	found  map[string][]string
}

func newLibraries(ctx context.Context, loader string) *libraries {
	return &libraries{ctx: ctx, loader: loader, cache: map[string]map[string]bool{}}
}

// interpreter is the dynamic loader of the toolchain's own programs (it
// defines symbols such as __tls_get_addr), as a list to append.
func (l *libraries) interpreter() []string {
	if l.loader == "" {
		return nil
	}
	return []string{l.loader}
}

// find returns the files of a library name (a soname such as libc.so.6,
// or libz.so for -lz), following linker scripts.
func (l *libraries) find(name string) []string {
	if filepath.IsAbs(name) {
		return ldso.Objects(name)
	}
	if f, ok := l.found[name]; ok {
		return f
	}
	if l.found == nil {
		l.found = map[string][]string{}
	}
	out, err := exec.CommandContext(l.ctx, "cc", "-print-file-name="+name).Output()
	p := strings.TrimSpace(string(out))
	if err != nil || !filepath.IsAbs(p) {
		l.found[name] = nil
		return nil
	}
	l.found[name] = ldso.Objects(p)
	return l.found[name]
}

// exports is what a library file defines.
func (l *libraries) exports(path string) map[string]bool {
	if e, ok := l.cache[path]; ok {
		return e
	}
	s, err := ldso.Read(path)
	if err != nil {
		s.Defined = map[string]bool{}
	}
	l.cache[path] = s.Defined
	return s.Defined
}

// provider is a set of symbols known to be there at load time.
type provider struct {
	name string
	syms map[string]bool
}

// nginxSymbols is what the nginx a module loads into provides: its own
// exports and its libraries' (with the dynamic loader's).
type nginxSymbols struct {
	// exact is set when the symbols were read from the built binary;
	// otherwise nginx's own symbols are the ngx_ identifiers of the sources
	// its Makefile compiles into the binary.
	exact     bool
	providers []provider
	pcre2     bool
}

func (n nginxSymbols) has(sym string) bool {
	for _, p := range n.providers {
		if p.syms[sym] {
			return true
		}
	}
	return false
}

// nginxFromBinary reads a built nginx binary.
func nginxFromBinary(libs *libraries, bin string) (nginxSymbols, error) {
	s, err := ldso.Read(bin)
	if err != nil {
		return nginxSymbols{}, fmt.Errorf("read the smoke nginx %s: %w", bin, err)
	}
	n := nginxSymbols{exact: true, providers: []provider{{"nginx", s.Defined}}}
	for _, lib := range append(s.Needed, libs.interpreter()...) {
		for _, f := range libs.find(lib) {
			n.providers = append(n.providers, provider{filepath.Base(f), libs.exports(f)})
		}
		if strings.HasPrefix(lib, "libpcre2") {
			n.pcre2 = true
		}
	}
	return n, nil
}

var ngxIdent = regexp.MustCompile(`\bngx_[A-Za-z0-9_]+`)

// nginxFromSources predicts the binary's symbols without building it:
// the libraries of its link line in the Makefile, and the ngx_ names in
// the sources the Makefile compiles into it (a name used there may be
// static or compiled out, so an unresolved symbol found this way is
// certain, a resolved one likely).
func nginxFromSources(libs *libraries, root string, mf Makefile) nginxSymbols {
	own := map[string]bool{}
	for _, src := range mf.BinarySources {
		p := src
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, src)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, id := range ngxIdent.FindAll(b, -1) {
			own[string(id)] = true
		}
	}
	n := nginxSymbols{providers: []provider{{"nginx", own}}}
	names := []string{"libc.so.6"}
	var dirs []string
	for _, l := range mf.BinaryLibs {
		switch {
		case strings.HasPrefix(l, "-L"):
			dirs = append(dirs, l[2:])
		case strings.HasPrefix(l, "-l"):
			names = append(names, "lib"+l[2:]+".so")
			if strings.HasPrefix(l, "-lpcre2") {
				n.pcre2 = true
			}
		default:
			names = append(names, l)
		}
	}
	names = append(names, libs.interpreter()...)
	for _, name := range names {
		files := libs.find(name)
		for _, d := range dirs {
			if len(files) == 0 {
				files = ldso.Objects(filepath.Join(d, name))
			}
		}
		for _, f := range files {
			n.providers = append(n.providers, provider{filepath.Base(f), libs.exports(f)})
		}
	}
	return n
}

// linked is a built .so and what its symbols need.
type linked struct {
	so     SO
	owner  int // index of the requested module; -1 for nginx's own
	file   string
	syms   ldso.Symbols
	needed []string // library files of its DT_NEEDED
	after  []int    // indices (into the linked list) that must load first
	// requires are the .so files it uses symbols of (after, resolved).
	requires []*linked
	missing  []string // symbols nothing provides
}

// checkSymbols resolves every .so's undefined symbols against nginx, its
// own libraries and the other .so files, and fills in after (load order
// edges) and missing.
func checkSymbols(libs *libraries, n nginxSymbols, sos []*linked) []string {
	for _, s := range sos {
		for _, lib := range s.syms.Needed {
			for _, f := range libs.find(lib) {
				s.needed = append(s.needed, f)
			}
		}
	}
	// Every library each .so brings, its own and theirs, read once.
	trees := make([][]string, len(sos))
	for i, s := range sos {
		trees[i] = libs.tree(s.needed)
	}
	var notes []string
	for i, s := range sos {
		fromLib := map[string]string{} // symbol -> library file that provides it
	symbol:
		for _, sym := range s.syms.Undefined {
			for j, o := range sos {
				if j != i && o.syms.Defined[sym] {
					if !slices.Contains(s.after, j) {
						s.after = append(s.after, j)
					}
					continue symbol
				}
			}
			if n.has(sym) {
				continue
			}
			for _, f := range s.needed {
				if libs.exports(f)[sym] {
					fromLib[sym] = f
					continue symbol
				}
			}
			s.missing = append(s.missing, sym)
		}
		// nginx loads modules into one global symbol scope, where the
		// first definition wins: when another .so brings a different
		// library defining a symbol this one takes from its own library
		// (lua's LuaJIT against libmodsecurity's Lua 5.3), this one loads
		// first.
		for j, o := range sos {
			if j == i || slices.Contains(o.after, i) {
				continue
			}
		other:
			for _, f := range trees[j] {
				if slices.Contains(trees[i], f) {
					continue
				}
				exp := libs.exports(f)
				for sym, own := range fromLib {
					if exp[sym] {
						o.after = append(o.after, i)
						notes = append(notes, fmt.Sprintf("%s loads before %s: both bring %s (%s and %s)",
							s.so.Name(), o.so.Name(), sym, filepath.Base(own), filepath.Base(f)))
						break other
					}
				}
			}
		}
	}
	return notes
}

// tree is every library file reachable from files through DT_NEEDED.
func (l *libraries) tree(files []string) []string {
	var out []string
	queue := append([]string{}, files...)
	for len(queue) > 0 && len(out) < 200 {
		f := queue[0]
		queue = queue[1:]
		if slices.Contains(out, f) {
			continue
		}
		out = append(out, f)
		if l.needs == nil {
			l.needs = map[string][]string{}
		}
		deps, ok := l.needs[f]
		if !ok {
			if s, err := ldso.Read(f); err == nil {
				for _, lib := range s.Needed {
					deps = append(deps, l.find(lib)...)
				}
			}
			l.needs[f] = deps
		}
		queue = append(queue, deps...)
	}
	return out
}

// loadOrder sorts sos so each loads after those it uses symbols of;
// otherwise the given order. A cycle keeps the given order for its
// members. It is the order configs are sorted in (modconf.Sort).
func loadOrder(sos []*linked) []*linked {
	deps := make([][]int, len(sos))
	for i, s := range sos {
		deps[i] = append([]int(nil), s.after...)
		sort.Ints(deps[i])
	}
	var out []*linked
	for _, i := range modconf.Sort(len(sos), deps) {
		out = append(out, sos[i])
	}
	return out
}

// missingReason explains unresolved symbols of a module's .so: the PCRE1
// API against an nginx built with PCRE2, a function whose source file the
// module's config did not compile, or a symbol this nginx does not have.
func missingReason(s *linked, n nginxSymbols, nginx, moduleDir, target string) string {
	syms := s.missing
	shown := syms
	if len(shown) > 5 {
		shown = shown[:5]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s.so would not load: undefined symbol(s) %s", s.so.Name(), strings.Join(shown, ", "))
	if len(syms) > len(shown) {
		fmt.Fprintf(&b, " and %d more", len(syms)-len(shown))
	}
	if target != "" {
		fmt.Fprintf(&b, " into the distro's own nginx %s %s (in neither it, its libraries, the .so's own libraries nor the other modules built)", nginx, target)
	} else {
		fmt.Fprintf(&b, " (in neither nginx %s, its libraries, the .so's own libraries nor the other modules built)", nginx)
	}
	var pcre1 []string
	for _, sym := range syms {
		if strings.HasPrefix(sym, "pcre_") {
			pcre1 = append(pcre1, sym)
		}
	}
	if len(pcre1) > 0 && n.pcre2 && target != "" {
		// --without-pcre2 changes only the nginx built here, not the
		// distro's: the module has to bring libpcre itself.
		fmt.Fprintf(&b, ".\nThe module calls the PCRE1 API (%s) and the distro's nginx is built with PCRE2: link the module against libpcre as Debian does for lua"+
			" (in its modules entry: libs: [-lpcre] and packages: {apt: [libpcre3-dev], dnf: [pcre-devel], apk: [pcre-dev]}); --without-pcre2 does not help, the distro's nginx keeps PCRE2.", pcre1[0])
		return b.String()
	}
	if len(pcre1) > 0 && n.pcre2 {
		fmt.Fprintf(&b, ".\nThe module calls the PCRE1 API (%s) but nginx %s is built with PCRE2: configure with --without-pcre2 (configure: in the config),"+
			" or link the module against libpcre as distributions do (libs: [-lpcre] in its modules entry, with the PCRE1 headers installed).", pcre1[0], nginx)
		return b.String()
	}
	if moduleDir != "" {
		for _, sym := range syms {
			if file := definedIn(moduleDir, sym, s.so.Sources); file != "" {
				fmt.Fprintf(&b, ".\n%s is defined in %s, which the module's config did not compile in this configure run"+
					" (configs compile some files only when a configure switch such as USE_OPENSSL is on when they run)", sym, file)
				return b.String()
			}
		}
	}
	return b.String()
}

// definedIn finds a source file under dir, not among compiled, that
// defines sym (nginx style: the name at the start of a line, then "(").
func definedIn(dir, sym string, compiled []string) string {
	def := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sym) + `\s*\(`)
	found := ""
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || found != "" {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() || (!strings.HasSuffix(p, ".c") && !strings.HasSuffix(p, ".cc") && !strings.HasSuffix(p, ".cpp")) || slices.Contains(compiled, p) {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && def.Match(b) {
			found = p
		}
		return nil
	})
	return found
}

// checkSymbols resolves every built .so's undefined symbols and orders
// them for loading. A .so that uses a symbol nothing provides is that
// module's failure (it would not load), even without a smoke test; the
// check repeats until every remaining .so resolves.
func (b *builder) checkSymbols(ctx context.Context, root string, groups []group, sos []*linked) []*linked {
	if len(sos) == 0 {
		return nil
	}
	libs := newLibraries(ctx, b.o.Compiler.Loader)
	for _, s := range sos {
		syms, err := ldso.Read(s.file)
		if err != nil {
			s.missing = []string{"(unreadable: " + err.Error() + ")"}
		}
		s.syms = syms
	}
	if b.judgedByTarget() {
		// The target is the judge: what it and its libraries do not
		// provide, it will not load; no nginx was built here.
		t, err := nginxFromBinary(libs, b.o.Target)
		if err != nil {
			for _, s := range sos {
				m, _ := b.moduleOf(s)
				b.fail(m, s.so.Name(), manifest.PhaseSymbols, fmt.Sprintf("read the target nginx %s: %v", b.o.Target, err))
			}
			return nil
		}
		return b.ordered(b.settle(libs, t, sos, b.o.Target), t)
	}
	var n nginxSymbols
	bin := filepath.Join(groups[0].builddir, "nginx")
	if _, err := os.Stat(bin); err == nil && b.o.Smoke != nil {
		if n, err = nginxFromBinary(libs, bin); err != nil {
			b.o.Log.Printf("%v: checking against the sources instead", err)
		}
	}
	if !n.exact {
		n = nginxFromSources(libs, root, groups[0].makefile)
	}
	sos = b.settle(libs, n, sos, "")
	if b.o.Target != "" {
		// The distro's own nginx is the oracle: what it and its libraries
		// do not provide, it will not load.
		t, err := nginxFromBinary(libs, b.o.Target)
		if err != nil {
			b.o.Log.Printf("the distro's own nginx: %v: not checked against it", err)
		} else {
			sos = b.settle(libs, t, sos, b.o.Target)
		}
	}
	return b.ordered(sos, n)
}

// ordered fills each .so's requires and puts them in load order.
func (b *builder) ordered(sos []*linked, n nginxSymbols) []*linked {
	for _, s := range sos {
		s.requires = nil
		for _, j := range s.after {
			s.requires = append(s.requires, sos[j])
		}
	}
	ordered := loadOrder(sos)
	if len(ordered) > 1 {
		var names []string
		for _, s := range ordered {
			names = append(names, s.so.Name())
		}
		how := "from the built nginx binary"
		if !n.exact {
			how = "from nginx's sources and libraries"
		}
		b.o.Log.Printf("symbols resolve (%s); load order: %s", how, strings.Join(names, ", "))
	}
	return ordered
}

// settle resolves the .so files against n until every remaining one
// resolves; one that does not is its module's failure. target names the
// distro's own nginx binary n was read from ("" for the one built here).
func (b *builder) settle(libs *libraries, n nginxSymbols, sos []*linked, target string) []*linked {
	var notes []string
	for {
		for _, s := range sos {
			s.after, s.missing, s.needed = nil, nil, nil
		}
		notes = checkSymbols(libs, n, sos)
		var keep []*linked
		for _, s := range sos {
			if len(s.missing) == 0 {
				keep = append(keep, s)
				continue
			}
			m, dir := b.moduleOf(s)
			b.fail(m, s.so.Name(), manifest.PhaseSymbols, missingReason(s, n, b.o.Nginx, dir, target))
		}
		if len(keep) == len(sos) {
			break
		}
		sos = keep
	}
	if target == "" {
		for _, note := range notes { // of the check that settled
			b.o.Log.Printf("%s", note)
		}
	} else {
		b.o.Log.Printf("symbols resolve against the distro's own nginx %s too", target)
	}
	return sos
}

// moduleOf is the requested module a .so belongs to (nginx's own
// modules belong to "nginx").
func (b *builder) moduleOf(s *linked) (Module, string) {
	if s.owner >= 0 && s.owner < len(b.o.Modules) {
		return b.o.Modules[s.owner], b.o.Modules[s.owner].Dir
	}
	return Module{ID: "nginx", Dir: "nginx"}, ""
}
