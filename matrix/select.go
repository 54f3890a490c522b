// Package matrix plans builds: which nginx versions to build against, and
// the jobs of a GitHub Actions strategy.matrix that build them. It is pure:
// no I/O, plain data in and out.
package matrix

import (
	"fmt"
	"sort"

	"github.com/hashicorp/go-version"

	"github.com/nginx-modbuild/nginx-modbuild/internal/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/upstream"
)

// Target is one nginx version to build against.
type Target struct {
	Nginx string        `json:"nginx"`
	Line  nginxver.Line `json:"line"`
	// Plus lists the NGINX Plus releases based on this version.
	Plus []string `json:"plus,omitempty"`
	// Why says which part of the config selected it: "latest stable",
	// "versions", "plus R34", ...
	Why []string `json:"why"`

	v *version.Version
}

// Select picks the versions the config asks for from the upstream
// releases (newest first): the newest `latest` releases of each line that
// pass the constraint, every listed version, and the base version of every
// listed Plus release. The result is newest first, without duplicates.
func Select(n config.Nginx, releases []upstream.Release, tab plus.Table) ([]Target, error) {
	byVersion := map[string]*Target{}
	add := func(v *version.Version, why string) {
		s := nginxver.String(v)
		t, ok := byVersion[s]
		if !ok {
			t = &Target{Nginx: s, Line: nginxver.LineOf(v), Plus: tab.ForBase(s), v: v}
			byVersion[s] = t
		}
		t.Why = append(t.Why, why)
	}
	known := map[string]bool{}
	for _, r := range releases {
		known[r.String()] = true
	}
	for _, line := range n.Lines {
		picked := 0
		for _, r := range releases {
			if picked == n.Latest {
				break
			}
			if r.Line != line || !n.Allows(r.Version) {
				continue
			}
			picked++
			add(r.Version, "latest "+string(line))
		}
	}
	for _, s := range n.Versions {
		v, err := nginxver.Parse(s)
		if err != nil {
			return nil, err
		}
		if len(releases) > 0 && !known[s] {
			return nil, fmt.Errorf("nginx.versions: %s is not an nginx release (newest is %s)", s, releases[0])
		}
		add(v, "versions")
	}
	// The pinned version is what the repository ships: always built.
	if n.Pin != "" {
		v, err := nginxver.Parse(n.Pin)
		if err != nil {
			return nil, fmt.Errorf("nginx.pin: %w", err)
		}
		if len(releases) > 0 && !known[n.Pin] {
			return nil, fmt.Errorf("nginx.pin: %s is not an nginx release (newest is %s): pin a released version", n.Pin, releases[0])
		}
		add(v, "pin")
	}
	for _, p := range n.Plus {
		m, err := tab.Lookup(p)
		if err != nil {
			return nil, fmt.Errorf("nginx.plus: %w", err)
		}
		v, err := nginxver.Parse(m.Base)
		if err != nil {
			return nil, fmt.Errorf("nginx.plus: %s: base %w", p, err)
		}
		add(v, "plus "+m.Release)
	}
	out := make([]Target, 0, len(byVersion))
	for _, t := range byVersion {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].v.GreaterThan(out[j].v) })
	return out, nil
}
