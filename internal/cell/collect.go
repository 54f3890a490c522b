package cell

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/lines"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/safename"
)

// checkSignatures keeps the .so files whose module signature is the
// target's (Options.Signature): nginx compares them as strings.
func (b *builder) checkSignatures(sos []*linked) []*linked {
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

// collect maps every .so configure declared to the module whose config
// declared it, reports each requested module for which configure
// declared none (with the reason) and each .so that did not compile.
func (b *builder) collect(groups []group, makeLog string, diags []Diagnostic) []*linked {
	var out []*linked
	// nginx's own dynamic modules (stream) come out of every configure
	// group: the first group's is the one loaded.
	seenOwn := map[string]bool{}
	for _, g := range groups {
		for _, m := range g.mods {
			if d := g.record[m.index]; d != nil {
				if d.OldStyle {
					b.converted = append(b.converted, d.Names...)
					b.o.Log.Printf("%s: old-style config (it only adds to nginx's module lists, for which nginx builds no .so): declared as a dynamic module", m.Name)
				}
			}
		}
		got := map[int]bool{}
		for _, so := range g.makefile.SOs {
			k := g.ownerOf(so)
			if err := safename.Check("module", so.Name()); err != nil {
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
			if k < 0 {
				if seenOwn[so.Name()] {
					continue
				}
				seenOwn[so.Name()] = true
				if b.judgedByTarget() {
					// nginx's own module (stream, for the modules that need
					// it): the target's copy is what the host loads.
					if p := targetModule(b.o.Target, so.Name()); p != "" {
						l.file = p
						b.o.Log.Printf("%s: nginx's own module, the target's %s", so.Name(), p)
						out = append(out, l)
					} else {
						b.fail(Module{ID: "nginx", Dir: "nginx"}, so.Name(), manifest.PhaseCompile, fmt.Sprintf("the target nginx %s has no %s.so in its modules path, and the modules need it: install the distro's package of it (%s, %s)",
							b.o.Target, so.Name(), manifest.DistroPackage(true, so.Name()), manifest.DistroPackage(false, so.Name())))
					}
					continue
				}
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

// excerpt is what the compiler said about a module: its error lines
// (each message once, with how many more files said it), or failing that
// the tools' own errors before make's error for one of its targets (the
// linker's, a missing compiler's), then the end of make's output that
// mentions it.
func excerpt(m prepared, so, makeLog string, diags []Diagnostic) string {
	var lines []string
	seen := map[string]int{} // message -> index in lines
	more := map[int]int{}
	for _, d := range diags {
		if (d.Severity != "error" && d.Severity != "fatal error") || !strings.HasPrefix(d.File, m.Dir+"/") {
			continue
		}
		if i, ok := seen[d.Message]; ok {
			more[i]++
			continue
		}
		seen[d.Message] = len(lines)
		lines = append(lines, fmt.Sprintf("%s:%d:%d: %s: %s", d.File, d.Line, d.Column, d.Severity, d.Message))
	}
	for i, n := range more {
		files := "files"
		if n == 1 {
			files = "file"
		}
		lines[i] += fmt.Sprintf(" (and in %d more %s)", n, files)
	}
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("... and %d more errors", len(lines)-10))
	}
	if len(lines) > 0 {
		return strings.Join(lines, "\n")
	}
	lines = toolErrors(makeLog, makeErrorOf(m, so))
	if len(lines) == 0 {
		lines = stoppedElsewhere(makeLog, makeErrorOf(m, so))
	}
	var mentions []string
	for _, l := range strings.Split(makeLog, "\n") {
		if strings.Contains(l, so) || strings.Contains(l, m.Dir) {
			mentions = append(mentions, l)
		}
	}
	if len(mentions) > 10 {
		mentions = mentions[len(mentions)-10:]
	}
	return strings.Join(append(lines, mentions...), "\n")
}

// stoppedElsewhere is the reason of a .so whose own recipes failed on
// nothing: make (-k) stopped on another target this one waited for (a
// cargo-built library in ADDON_DEPS, which every addon object depends
// on), named with that target's first tool error; nil when make failed
// on none or on one of mine.
func stoppedElsewhere(makeLog string, mine func(target string, block []string) bool) []string {
	var other string
	blockLines(makeLog, func(target string, block []string) bool {
		if other == "" && !mine(target, block) {
			other = target
		}
		return false
	})
	if other == "" || len(blockLines(makeLog, mine)) > 0 {
		return nil
	}
	line := "none of its objects was built: make stopped on " + other
	if errs := toolErrors(makeLog, func(target string, _ []string) bool { return target == other }); len(errs) > 0 {
		line += ", which it waits for: " + errs[0]
	}
	return []string{line}
}

// makeErrorOf accepts make's errors for m's .so so: its link, or an
// object whose compile command names its sources (objects are
// objs/addon/..., not under its directory).
func makeErrorOf(m prepared, so string) func(target string, block []string) bool {
	return func(target string, block []string) bool {
		return strings.Contains(target, so) || slices.ContainsFunc(block, func(l string) bool { return strings.Contains(l, m.Dir+"/") })
	}
}

var (
	// makeError is make's line for a recipe that failed, naming its target.
	makeError = regexp.MustCompile(`^make(?:\[\d+\])?: \*\*\* \[(?:[^\]]*:\d+: )?([^\]]+)\] Error \d+`)
	// toolError is a tool's own error line, one gcc's diagnostics regexp
	// does not read: the linker's, collect2's, a compiler driver that
	// cannot run a part of itself (cc1plus), cargo's.
	toolError = regexp.MustCompile(`(?:^|/)ld(?:\.\w+)?: |^collect2: |^(?:cc|gcc|g\+\+|c\+\+|clang)(?:-\d+)?: (?:fatal )?error: |^error(?:\[E\d+\])?: |recompile with -fPIC`)
)

// toolErrors are the tool error lines, each once, among the lines before
// each make error that mine accepts (blockLines).
func toolErrors(makeLog string, mine func(target string, block []string) bool) []string {
	var out []string
	for _, t := range blockLines(makeLog, mine) {
		if t = strings.TrimSpace(t); toolError.MatchString(t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

// blockLines are the lines before each make error that mine accepts (by
// its target and those lines), back to the previous make error (with
// make -j, another recipe's lines can fall between; the lines are the
// tools' own words either way).
func blockLines(makeLog string, mine func(target string, block []string) bool) []string {
	log := strings.Split(makeLog, "\n")
	var out []string
	from := 0
	for i, l := range log {
		mm := makeError.FindStringSubmatch(l)
		if mm == nil {
			continue
		}
		if mine(mm[1], log[from:i]) {
			out = append(out, log[from:i+1]...)
		}
		from = i + 1
	}
	return out
}
