// Package plus maps NGINX Plus releases to the open-source nginx version
// each is based on. A module built with --with-compat against that version
// loads into the Plus release (R11 and later).
//
// The table, plus.json, is generated from the "Based on NGINX Open Source
// X" lines of content/nginx/releases.md in the public nginx/documentation
// repository. To refresh it after a Plus release:
//
//	git clone https://github.com/nginx/documentation
//	go run ./internal/plan/plus/gen -in documentation/content/nginx/releases.md \
//	    -commit "$(git -C documentation rev-parse HEAD)" > internal/plan/plus/plus.json
package plus

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Release is one NGINX Plus release.
type Release struct {
	// Name is the canonical name: "R36" or "PLS.37.0.4.1".
	Name string `json:"name"`
	// Base is the open-source nginx version the release is built on.
	Base string `json:"base,omitempty"`
	// Date is the release date, YYYY-MM-DD.
	Date string `json:"date,omitempty"`
	// Patches lists the patch releases (P1, P2, ...) the notes mention.
	// They keep their release's base.
	Patches []string `json:"patches,omitempty"`
}

// Table is the embedded data with its provenance.
type Table struct {
	Source   string    `json:"source"`
	Commit   string    `json:"commit"`
	Releases []Release `json:"releases"`
}

//go:embed plus.json
var tableJSON []byte

// embedded is decoded on first use, not at init, so that the generator,
// which imports this package, runs even while plus.json is being rewritten.
var embedded = sync.OnceValue(func() Table {
	var t Table
	if err := json.Unmarshal(tableJSON, &t); err != nil {
		// An empty table makes every lookup fail with "unknown release";
		// TestEmbeddedTableHasEveryRelease catches a bad file first.
		return Table{Source: "plus.json: " + err.Error()}
	}
	return t
})

// Embedded returns the table compiled into this binary.
func Embedded() Table { return embedded() }

// Match is the result of resolving a Plus release name.
type Match struct {
	// Release is the canonical name asked for, including a patch:
	// "R36 P3", "PLS.37.0.4.1".
	Release string `json:"release"`
	// Base is the open-source version to build modules against.
	Base string `json:"base"`
	// Listed is false for a patch release the notes do not mention yet
	// (patch releases keep their release's base, so Base is still right).
	Listed bool `json:"listed"`
}

var (
	rName   = regexp.MustCompile(`(?i)^(?:nginx[ -]plus[ -])?(?:release[ -]|r)(\d{1,3})(?:[ -]?p(\d{1,3}))?$`)
	plsName = regexp.MustCompile(`(?i)^(?:nginx[ -]plus[ -])?pls[.-](\d+)[.-](\d+)[.-](\d+)[.-](\d+)(?:[ -]lts)?$`)
)

// Lookup resolves a Plus release name in any of the spellings people use:
// "R33", "r33", "R36 P3", "R36-P3", "nginx-plus-r36-p3", "NGINX Plus R34",
// "PLS.37.0.4.1", "PLS.37.0.4.1 LTS".
func (t Table) Lookup(s string) (Match, error) {
	in := strings.TrimSpace(s)
	if m := rName.FindStringSubmatch(in); m != nil {
		n, _ := strconv.Atoi(m[1])
		name := "R" + strconv.Itoa(n)
		r, ok := t.find(name)
		if !ok {
			return Match{}, t.unknown(s)
		}
		match := Match{Release: name, Base: r.Base, Listed: true}
		if m[2] != "" {
			p, _ := strconv.Atoi(m[2])
			pn := "P" + strconv.Itoa(p)
			match.Release += " " + pn
			match.Listed = slices.Contains(r.Patches, pn)
		}
		return match, nil
	}
	if m := plsName.FindStringSubmatch(in); m != nil {
		var n [4]int
		for i := range n {
			n[i], _ = strconv.Atoi(m[i+1])
		}
		name := fmt.Sprintf("PLS.%d.%d.%d.%d", n[0], n[1], n[2], n[3])
		r, listed := t.find(name)
		if listed && r.Base != "" {
			return Match{Release: name, Base: r.Base, Listed: true}, nil
		}
		// An LTS patch release (PLS.M.0.N.P) carries only security fixes on
		// top of its track's first release, PLS.M.0.0.1, and keeps its base.
		if n[1] == 0 {
			first, ok := t.find(fmt.Sprintf("PLS.%d.0.0.1", n[0]))
			if ok && first.Base != "" {
				return Match{Release: name, Base: first.Base, Listed: listed}, nil
			}
		}
		return Match{}, t.unknown(s)
	}
	return Match{}, fmt.Errorf("%q is not an NGINX Plus release name (want e.g. R34, \"R36 P3\" or PLS.37.0.4.1)", s)
}

func (t Table) unknown(s string) error {
	newest := ""
	if len(t.Releases) > 0 {
		newest = t.Releases[0].Name
	}
	return fmt.Errorf("unknown NGINX Plus release %q: this binary's table ends at %s (from %s at %.12s); "+
		"upgrade nginx-modbuild, or build the base version with --nginx X.Y.Z", s, newest, t.Source, t.Commit)
}

func (t Table) find(name string) (Release, bool) {
	for _, r := range t.Releases {
		if r.Name == name {
			return r, true
		}
	}
	return Release{}, false
}

// ForBase lists the Plus releases (patch releases not spelled out) built on
// the open-source version base, oldest first.
func (t Table) ForBase(base string) []string {
	var out []string
	for i := len(t.Releases) - 1; i >= 0; i-- {
		if r := t.Releases[i]; t.baseOf(r) == base {
			out = append(out, r.Name)
		}
	}
	return out
}

// baseOf is a listed release's base: its own, or for an LTS patch release
// (PLS.M.0.N.P) the base of its track's first release.
func (t Table) baseOf(r Release) string {
	if r.Base != "" || !isPLS(r.Name) {
		return r.Base
	}
	f := strings.Split(r.Name, ".")
	if len(f) != 5 || f[2] != "0" {
		return ""
	}
	first, _ := t.find("PLS." + f[1] + ".0.0.1")
	return first.Base
}
