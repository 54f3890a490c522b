// Package matrix plans builds: which nginx versions to build against, and
// the jobs of a GitHub Actions strategy.matrix that build them. It is pure:
// no I/O, plain data in and out.
package matrix

import (
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/go-version"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
)

// Target is one nginx version to build against.
type Target struct {
	Nginx string        `json:"nginx"`
	Line  nginxver.Line `json:"line"`
	// Plus lists the NGINX Plus releases based on this version.
	Plus []string `json:"plus,omitempty"`
	// Why says which part of the config selected it: "latest stable",
	// "versions", "plus R34", "packaged by debian-12", ...
	Why []string `json:"why"`
	// Distros limits the version to these distros (a distro's packaged
	// nginx is built for that distro only); empty means every distro.
	Distros []string `json:"distros,omitempty"`

	v *version.Version
}

// Select picks the versions the config asks for from the upstream
// releases (newest first): the newest `latest` releases of each line that
// pass the constraint, every listed version, the base version of every
// listed Plus release and, with nginx.packaged, each distro's packaged
// version for that distro; a distro whose nginx is an image's (Like) gets
// only the version of that nginx. The result is newest first, without
// duplicates; notes say what packaged could not add.
func Select(n config.Nginx, distros []distro.Distro, releases []*version.Version, tab plus.Table) ([]Target, []string, error) {
	sel := &selection{tab: tab, byVersion: map[string]*Target{}, everywhere: map[string]bool{}, only: map[string][]string{}}
	if err := sel.upstream(n, releases); err != nil {
		return nil, nil, err
	}
	imageTargets, others, notes, err := sel.distroTargets(n, distros)
	if err != nil {
		return nil, nil, err
	}
	out := sel.targets(imageTargets, others)
	sort.Slice(out, func(i, j int) bool { return out[i].v.GreaterThan(out[j].v) })
	return out, notes, nil
}

// selection is the versions selected so far, each with why.
type selection struct {
	tab       plus.Table
	byVersion map[string]*Target
	// everywhere are the versions built for every distro (but the image
	// targets); only, the distros of a version built for some only.
	everywhere map[string]bool
	only       map[string][]string
}

// add selects v for why.
func (sel *selection) add(v *version.Version, why string) *Target {
	s := nginxver.String(v)
	t, ok := sel.byVersion[s]
	if !ok {
		t = &Target{Nginx: s, Line: nginxver.LineOf(v), Plus: sel.tab.ForBase(s), v: v}
		sel.byVersion[s] = t
	}
	t.Why = append(t.Why, why)
	return t
}

// addAll selects v for why, for every distro.
func (sel *selection) addAll(v *version.Version, why string) {
	sel.everywhere[sel.add(v, why).Nginx] = true
}

// upstream selects the releases the config asks for: the newest of each
// line, nginx.versions, the pin and NGINX Plus's bases.
func (sel *selection) upstream(n config.Nginx, releases []*version.Version) error {
	known := map[string]bool{}
	for _, r := range releases {
		known[nginxver.String(r)] = true
	}
	for _, line := range n.Lines {
		picked := 0
		for _, r := range releases {
			if picked == n.Latest {
				break
			}
			if nginxver.LineOf(r) != line || !n.Allows(r) {
				continue
			}
			picked++
			sel.addAll(r, "latest "+string(line))
		}
	}
	for _, s := range n.Versions {
		v, err := nginxver.Parse(s)
		if err != nil {
			return err
		}
		if len(releases) > 0 && !known[s] {
			return fmt.Errorf("nginx.versions: %s is not an nginx release (newest is %s)", s, nginxver.String(releases[0]))
		}
		sel.addAll(v, "versions")
	}
	// The pinned version is what the repository ships: always built.
	if n.Pin != "" {
		v, err := nginxver.Parse(n.Pin)
		if err != nil {
			return fmt.Errorf("nginx.pin: %w", err)
		}
		if len(releases) > 0 && !known[n.Pin] {
			return fmt.Errorf("nginx.pin: %s is not an nginx release (newest is %s): pin a released version", n.Pin, nginxver.String(releases[0]))
		}
		sel.addAll(v, "pin")
	}
	for _, p := range n.Plus {
		m, err := sel.tab.Lookup(p)
		if err != nil {
			return fmt.Errorf("nginx.plus: %w", err)
		}
		v, err := nginxver.Parse(m.Base)
		if err != nil {
			return fmt.Errorf("nginx.plus: %s: base %w", p, err)
		}
		sel.addAll(v, "plus "+m.Release)
	}
	return nil
}

// distroTargets selects the versions of the distros' own nginx: an image
// target's (for it only) and, with nginx.packaged, each distro's
// package's. It returns the image targets, the other distros and notes.
func (sel *selection) distroTargets(n config.Nginx, distros []distro.Distro) (imageTargets, others, notes []string, err error) {
	// An image whose nginx is the target has one nginx: its cell is for
	// that version only, and no other version is built for it.
	for _, d := range distros {
		if d.Like == "" {
			others = append(others, d.Name)
			continue
		}
		v, err := nginxver.Parse(d.Packaged)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("distro %s: the version of its nginx (packaged): %w", d.Name, err)
		}
		t := sel.add(v, "the nginx of "+d.Image)
		sel.only[t.Nginx] = append(sel.only[t.Nginx], d.Name)
		imageTargets = append(imageTargets, d.Name)
	}
	if n.Packaged {
		for _, d := range distros {
			switch {
			case d.Like != "":
				// above
			case d.Packaged != "":
				v, err := nginxver.Parse(d.Packaged)
				if err != nil {
					return nil, nil, nil, fmt.Errorf("distro %s: packaged nginx: %w", d.Name, err)
				}
				t := sel.add(v, "packaged by "+d.Name)
				sel.only[t.Nginx] = append(sel.only[t.Nginx], d.Name)
			case d.Moving:
				notes = append(notes, fmt.Sprintf("nginx.packaged: %s moves its nginx package to new upstream versions within the release, "+
					"so no version is built for it automatically: name the version it ships, distros: [{name: %s, packaged: 1.x.y}]", d.Name, d.Name))
			default:
				notes = append(notes, fmt.Sprintf("nginx.packaged: no packaged nginx version is known for %s: add packaged: 1.x.y to its distros entry", d.Name))
			}
		}
	}
	return imageTargets, others, notes, nil
}

// targets are the selected versions, each with its distros.
func (sel *selection) targets(imageTargets, others []string) []Target {
	out := make([]Target, 0, len(sel.byVersion))
	for _, t := range sel.byVersion {
		switch {
		case !sel.everywhere[t.Nginx]:
			t.Distros = sel.only[t.Nginx]
		case len(imageTargets) > 0:
			// Every distro but the image targets, and those whose nginx
			// this is.
			t.Distros = append(slices.Clone(others), sel.only[t.Nginx]...)
		}
		out = append(out, *t)
	}
	return out
}

// For reports whether the target is built for the distro.
func (t Target) For(distro string) bool {
	return len(t.Distros) == 0 || slices.Contains(t.Distros, distro)
}
