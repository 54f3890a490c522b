package plus

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	// "### NGINX Plus Release 36 (R36) {#r36}", "### NGINX Plus Initial Release (R1) {#r1}"
	headingR = regexp.MustCompile(`^###\s+NGINX Plus .*\((R\d+)\)`)
	// "### NGINX Plus PLS.37.0.4.1 LTS {#pls.37.0.4}"
	headingPLS = regexp.MustCompile(`^###\s+NGINX Plus (PLS\.\d+\.\d+\.\d+\.\d+)\b`)
	// "_Based on NGINX Open Source 1.29.3_", "_NGINX Open Source build 1.13.7_",
	// "_Based on NGINX Open Source 1.5.7‑1_" (a non-breaking hyphen and a package suffix).
	based = regexp.MustCompile(`^_(?:Based on NGINX Open Source|NGINX Open Source build) (\d+\.\d+\.\d+)`)
	// "NGINX Plus R36 P3<br/>" at the start of a patch entry.
	patch = regexp.MustCompile(`^NGINX Plus (R\d+) (P\d+)\b`)
	// "_December 1, 2025_<br/>"
	dated = regexp.MustCompile(`^_([A-Z][a-z]+ \d{1,2}, \d{4})_`)

	// The notes use non-breaking spaces and hyphens in places.
	normalize = strings.NewReplacer("\u00a0", " ", "\u2011", "-")
)

// ParseReleaseNotes reads the NGINX Plus release notes, as kept in
// content/nginx/releases.md of the public nginx/documentation repository,
// and returns every release with its base open-source version, newest
// first as the notes list them. Releases of the PLS LTS track that name no
// base keep the base of their track's first release (PLS.37.0.0.1); that
// rule is applied by Lookup, so they are returned with an empty Base.
func ParseReleaseNotes(r io.Reader) ([]Release, error) {
	var (
		out  []Release
		cur  = -1
		seen = map[string]int{}
		line int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(normalize.Replace(sc.Text()))
		name := ""
		if m := headingPLS.FindStringSubmatch(text); m != nil {
			name = m[1]
		} else if m := headingR.FindStringSubmatch(text); m != nil {
			name = m[1]
		}
		if name != "" {
			if i, ok := seen[name]; ok {
				cur = i
				continue
			}
			seen[name] = len(out)
			cur = len(out)
			out = append(out, Release{Name: name})
			continue
		}
		if m := patch.FindStringSubmatch(text); m != nil {
			i, ok := seen[m[1]]
			if !ok {
				return nil, fmt.Errorf("line %d: patch %s %s before its release", line, m[1], m[2])
			}
			if !slices.Contains(out[i].Patches, m[2]) {
				out[i].Patches = append(out[i].Patches, m[2])
			}
			continue
		}
		if cur < 0 {
			continue
		}
		rel := &out[cur]
		if m := based.FindStringSubmatch(text); m != nil && rel.Base == "" {
			rel.Base = m[1]
			continue
		}
		if m := dated.FindStringSubmatch(text); m != nil && rel.Date == "" {
			d, err := time.Parse("January 2, 2006", m[1])
			if err != nil {
				return nil, fmt.Errorf("line %d: release date %q: %w", line, m[1], err)
			}
			rel.Date = d.Format("2006-01-02")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no NGINX Plus release headings found: is this content/nginx/releases.md?")
	}
	for i := range out {
		sort.Slice(out[i].Patches, func(a, b int) bool {
			return patchNumber(out[i].Patches[a]) < patchNumber(out[i].Patches[b])
		})
	}
	for _, r := range out {
		if r.Base == "" && !isPLS(r.Name) {
			return nil, fmt.Errorf("release %s has no \"Based on NGINX Open Source\" line", r.Name)
		}
	}
	return out, nil
}

func patchNumber(p string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(p, "P"))
	return n
}

func isPLS(name string) bool { return strings.HasPrefix(name, "PLS.") }
