package cell

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
)

var (
	// noInclude is gcc's message for an #include it did not find (the
	// linker's for a -l is probes.go's noLib).
	noInclude = regexp.MustCompile(`^([A-Za-z0-9_+./-]+\.(?:h|hh|hpp|hxx)): No such file or directory$`)
	// noCC1plus is the compiler driver's for C++ sources without g++.
	noCC1plus = regexp.MustCompile("(?:cannot execute|error trying to exec) ['‘`]cc1plus['’`]")
	// noCommand is the shell's or make's for a command it did not find
	// ("sh: 1: cmake: not found", "line 12: cmake: command not found",
	// "make: cargo: No such file or directory"), or a config's own words
	// for it (nginx-acme's "cargo binary cargo is not found").
	noCommand = regexp.MustCompile(`^(?:\S+: (?:line \d+: |\d+: )?([A-Za-z0-9_.+-]+): (?:command )?not found|make(?:\[\d+\])?: ([A-Za-z0-9_.+-]+): No such file or directory|.*\bbinary (\S+) is not found)$`)
)

// missingFiles are the files module m's build of its .so so stopped
// without, in the order the build said so: the headers its sources
// include (gcc's fatal errors in its files), the libraries its link
// names (-l), g++ for C++ sources, the commands its recipes run.
func missingFiles(m prepared, so SO, makeLog string, diags []Diagnostic) []sysdeps.Wanted {
	var out []sysdeps.Wanted
	add := func(w sysdeps.Wanted) {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	for _, d := range diags {
		// gcc's "fatal error:" for a missing include (ParseDiagnostics
		// reads it as an error).
		if d.Severity == "error" && strings.HasPrefix(d.File, m.Dir+"/") {
			if mm := noInclude.FindStringSubmatch(d.Message); mm != nil {
				add(sysdeps.Wanted{Kind: sysdeps.Header, Name: mm[1]})
			}
		}
	}
	cxx := slices.ContainsFunc(so.Sources, func(s string) bool {
		return strings.HasSuffix(s, ".cpp") || strings.HasSuffix(s, ".cc") || strings.HasSuffix(s, ".cxx")
	})
	for _, l := range blockLines(makeLog, makeErrorOf(m, so.Name())) {
		l = strings.TrimSpace(l)
		if mm := noLib.FindStringSubmatch(l); mm != nil {
			add(sysdeps.Wanted{Kind: sysdeps.Lib, Name: mm[1]})
		}
		if cxx && noCC1plus.MatchString(l) {
			add(sysdeps.Wanted{Kind: sysdeps.Command, Name: "g++"})
		}
		if c := missingCommand(l); c != "" {
			add(sysdeps.Wanted{Kind: sysdeps.Command, Name: c})
		}
	}
	return out
}

// missingCommand is the command line l says was not found, or "".
func missingCommand(l string) string {
	mm := noCommand.FindStringSubmatch(strings.TrimSpace(l))
	if mm == nil {
		return ""
	}
	return mm[1] + mm[2] + mm[3]
}

// missingCommands are the commands a config's configure output says were
// not found, in order.
func missingCommands(out string) []sysdeps.Wanted {
	var cmds []sysdeps.Wanted
	for _, l := range strings.Split(out, "\n") {
		if c := missingCommand(l); c != "" && !slices.Contains(cmds, sysdeps.Wanted{Kind: sysdeps.Command, Name: c}) {
			cmds = append(cmds, sysdeps.Wanted{Kind: sysdeps.Command, Name: c})
		}
	}
	return cmds
}

// ownerOf is the position in g.mods of the module whose config declared
// so (by name, else by most of its sources), -1 for nginx's own.
func (g group) ownerOf(so SO) int {
	for k, m := range g.mods {
		if d := g.record[m.index]; d != nil && slices.Contains(d.Names, so.Name()) {
			return k
		}
	}
	return majorityOwner(so.Sources, g.mods)
}

// makeAgainWithFound looks up, in the distribution's file index, the
// files each module's .so did not build without (missingFiles), installs
// the package the index names for each (once per cell), and runs make
// again in the groups that got one; up to three rounds, as a header
// found can be followed by a library the link then lacks. logs are each
// group's make output, replaced by the later run's; f's make log and
// diagnostics follow them.
func (b *builder) makeAgainWithFound(ctx context.Context, f *flow, logs []string) {
	for round := 0; round < 3; round++ {
		again := false
		for i, g := range f.groups {
			if b.installFound(ctx, g, logs[i], f.diags) {
				b.o.Log.Printf("make: %s again, with what the file index found", g.builddir)
				stop := b.progress(g.builddir)
				logs[i], _ = run(ctx, f.root, MakeArgs(g.builddir, b.o.Jobs, "modules"))
				stop()
				again = true
			}
		}
		if !again {
			return
		}
		f.makeLog = strings.Join(logs, "")
		f.diags = ParseDiagnostics(f.makeLog)
	}
}

// installFound installs the packages of the files g's unbuilt .so files
// lacked; it reports whether it installed any.
func (b *builder) installFound(ctx context.Context, g group, makeLog string, diags []Diagnostic) bool {
	var pkgs []string
	for _, so := range g.makefile.SOs {
		k := g.ownerOf(so)
		if _, err := os.Stat(so.Path); err == nil || k < 0 {
			continue
		}
		for _, p := range b.packagesFor(ctx, g.mods[k], missingFiles(g.mods[k], so, makeLog, diags)) {
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
	}
	return b.installFoundPackages(ctx, pkgs)
}

// packagesFor are the packages to install for the files m's build lacked
// (lookUp), each once.
func (b *builder) packagesFor(ctx context.Context, m prepared, ws []sysdeps.Wanted) []string {
	var pkgs []string
	for _, w := range ws {
		if p := b.lookUp(ctx, m, w); p != "" && !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

// lookUp asks the file index, once per cell, which package has w (a
// file m's build lacked), records the answer in the cell manifest and
// returns the package to install ("" for none, or one installed already).
func (b *builder) lookUp(ctx context.Context, m prepared, w sysdeps.Wanted) string {
	if b.o.Files == nil || b.o.Packages == nil || b.looked[w] {
		return ""
	}
	b.looked[w] = true
	found := manifest.Found{Module: m.Name, Source: m.ID, Missing: w.String()}
	cands, where, err := b.o.Files.Provides(ctx, w)
	found.Searched = where
	switch {
	case err != nil:
		b.o.Log.Printf("%s: its build lacks %s; the file index could not tell which package has it: %v", m.Name, w, err)
		b.unresolved[m.Dir] = append(b.unresolved[m.Dir], fmt.Sprintf("%s: %v", w, err))
		return ""
	case len(cands) == 0:
		b.o.Log.Printf("%s: its build lacks %s, and no package of %s has it", m.Name, w, where)
		b.unresolved[m.Dir] = append(b.unresolved[m.Dir], fmt.Sprintf("no package has %s (searched %s)", w, where))
	default:
		found.Package, found.Other = cands[0], cands[1:]
		b.o.Log.Printf("%s: its build lacks %s: %s has it (%s): installing it", m.Name, w, cands[0], where)
	}
	b.c.Found = append(b.c.Found, found)
	if found.Package == "" || b.installed[found.Package] {
		return ""
	}
	return found.Package
}

// installFoundPackages installs what lookUp found; it reports whether it
// installed anything.
func (b *builder) installFoundPackages(ctx context.Context, pkgs []string) bool {
	if len(pkgs) == 0 {
		return false
	}
	if err := b.o.Packages.Install(ctx, pkgs); err != nil {
		b.o.Log.Printf("install %s: %v", strings.Join(pkgs, " "), err)
		return false
	}
	for _, p := range pkgs {
		b.installed[p] = true
	}
	return true
}
