package cell

import (
	"cmp"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// Probe is one failed auto/feature test from objs/autoconf.err.
type Probe struct {
	// Feature is what configure was checking for.
	Feature string
	// Headers and Libs are what the test program included and linked.
	Headers, Libs []string
	// Errors are the compiler's and linker's complaints.
	Errors []string
	// MissingHeaders and MissingLibs are what the compiler could not find.
	MissingHeaders, MissingLibs []string
}

var (
	probeInclude = regexp.MustCompile(`(?m)^#include\s*<([^>]+)>`)
	probeLib     = regexp.MustCompile(`(?:^|\s)-l(\S+)`)
	noHeader     = regexp.MustCompile(`fatal error: ([^:\s]+): No such file or directory`)
	noLib        = regexp.MustCompile(`cannot find -l(\S+?)(?::|\s|$)`)
)

// FailedProbes reads the failed feature tests that configure ran for
// module i (the wrapper config marks where each module's tests begin).
func FailedProbes(autoconfErr string, i int) []Probe {
	marker := fmt.Sprintf("nginx-modbuild: module %d config ", i)
	start := strings.Index(autoconfErr, marker)
	if start < 0 {
		return nil
	}
	text := autoconfErr[start:]
	if next := strings.Index(text[len(marker):], "nginx-modbuild: module "); next >= 0 {
		text = text[:len(marker)+next]
	}
	var out []Probe
	for _, block := range strings.Split(text, "----------------------------------------\n")[1:] {
		title, rest, _ := strings.Cut(block, "\n")
		parts := strings.Split(rest, "\n----------\n")
		if len(parts) < 3 { // the test passed: nothing after the compiler output
			continue
		}
		p := Probe{Feature: strings.TrimPrefix(title, "checking for ")}
		for _, m := range probeInclude.FindAllStringSubmatch(parts[1], -1) {
			p.Headers = append(p.Headers, m[1])
		}
		for _, m := range probeLib.FindAllStringSubmatch(parts[2], -1) {
			p.Libs = append(p.Libs, m[1])
		}
		for _, l := range strings.Split(parts[0], "\n") {
			if strings.Contains(l, "error") || strings.Contains(l, "cannot find") {
				p.Errors = append(p.Errors, strings.TrimSpace(l))
			}
			if m := noHeader.FindStringSubmatch(l); m != nil && !slices.Contains(p.MissingHeaders, m[1]) {
				p.MissingHeaders = append(p.MissingHeaders, m[1])
			}
			if m := noLib.FindStringSubmatch(l); m != nil && !slices.Contains(p.MissingLibs, m[1]) {
				p.MissingLibs = append(p.MissingLibs, m[1])
			}
		}
		out = append(out, p)
	}
	return out
}

// missingLibraries maps what failed probes could not find to the
// library table; unknown names are returned apart.
func missingLibraries(probes []Probe) (known []sysdeps.Library, unknown []string) {
	seen := map[string]bool{}
	for _, p := range probes {
		for _, what := range append(append([]string{}, p.MissingHeaders...), prefixed("-l", p.MissingLibs)...) {
			if l, ok := sysdeps.LibraryFor(what); ok {
				if !seen[l.Name] {
					seen[l.Name] = true
					known = append(known, l)
				}
			} else if !slices.Contains(unknown, what) {
				unknown = append(unknown, what)
			}
		}
	}
	return known, unknown
}

func prefixed(p string, list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = p + s
	}
	return out
}

// probeReport says what a failed configure of a module probed for and
// how to provide it on this distro.
func probeReport(probes []Probe, family distro.Family, distroName, moduleID string) string {
	var b strings.Builder
	for _, p := range probes {
		fmt.Fprintf(&b, "failed probe %q", p.Feature)
		if len(p.Headers) > 0 || len(p.Libs) > 0 {
			fmt.Fprintf(&b, " (test program includes %s; links %s)", strings.Join(lastN(p.Headers, 3), " "), strings.Join(prefixed("-l", p.Libs), " "))
		}
		if len(p.Errors) > 0 {
			fmt.Fprintf(&b, ": %s", p.Errors[0])
		}
		b.WriteString("\n")
	}
	known, unknown := missingLibraries(probes)
	for _, l := range known {
		names := l.Packages[family]
		pkg := strings.Join(names, " or ")
		if len(names) == 0 {
			names = l.Packages[distro.Apt]
			pkg = strings.Join(names, " or ") + " (its apt name)"
		}
		fmt.Fprintf(&b, "missing library %s: install %s on %s (nginx-modbuild build --install-deps finds which this release has), or declare it in the module's entry: packages: {%s: [%s]}\n",
			l.Name, pkg, distroName, cmp.Or(string(family), "apt"), names[0])
	}
	for _, u := range unknown {
		fmt.Fprintf(&b, "missing %s: no package is known for it; declare the package that provides it in the entry of %s: packages: {%s: [...]}\n",
			u, moduleID, cmp.Or(string(family), "apt"))
	}
	return strings.TrimRight(b.String(), "\n")
}

func lastN(list []string, n int) []string {
	if len(list) > n {
		return list[len(list)-n:]
	}
	return list
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
