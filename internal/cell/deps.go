package cell

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/lines"
)

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
func (b *builder) needs(m prepared) []need {
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
func (b *builder) installHinted(ctx context.Context, mods []prepared) ([]prepared, error) {
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
				b.o.Log.Printf("%s: %s, but %v: configure decides whether it is needed", m.Name, n.why, err)
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

// installMissing installs the known packages of the libraries a failed
// probe did not find, once per package; it reports whether it installed
// anything.
func (b *builder) installMissing(ctx context.Context, m prepared, probes []Probe) bool {
	known, unknown := missingLibraries(probes)
	installed := b.installLibs(ctx, m.Name+": configure", m.Dir, known)
	// What the table of known libraries lacks, the distribution's file
	// index may have.
	var ws []sysdeps.Wanted
	for _, u := range unknown {
		w := sysdeps.Wanted{Kind: sysdeps.Header, Name: u}
		if l, ok := strings.CutPrefix(u, "-l"); ok {
			w = sysdeps.Wanted{Kind: sysdeps.Lib, Name: l}
		}
		ws = append(ws, w)
	}
	return b.installFoundPackages(ctx, b.packagesFor(ctx, m, ws)) || installed
}

// installSwitch installs the library behind one of nginx's switches (a
// module turned it on and nginx's probe for it failed); it reports
// whether it installed anything.
func (b *builder) installSwitch(ctx context.Context, lib sysdeps.Library) bool {
	return b.installLibs(ctx, "nginx's "+lib.Switch+" probe", "", []sysdeps.Library{lib})
}

// installLibs resolves in the package index and installs the libraries
// a failed probe (who) did not find, each package once per cell; it
// reports whether it installed anything. A library the index lacks is
// noted against the module in dir, for its failure message.
func (b *builder) installLibs(ctx context.Context, who, dir string, libs []sysdeps.Library) bool {
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
