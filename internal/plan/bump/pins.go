// Package bump moves pinned nginx versions forward: it finds the pins in a
// repository's files (the config's nginx.pin, Dockerfile ARG/ENV, YAML and
// .env NGINX_VERSION, nginx-X.Y.Z.tar.gz URLs, nginx:X.Y.Z image tags,
// release-X.Y.Z tags, and declared patterns), rewrites exactly the
// occurrences equal to the current pin, byte for byte, and commits the
// change through the Git Data API to a branch with one pull request.
package bump

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
)

// Occurrence is one pinned version in a file.
type Occurrence struct {
	Path string
	// Form names the kind of pin: config, dockerfile, env, tarball,
	// image, release-tag or declared.
	Form string
	Line int
	// Start and End are the byte offsets of the version text.
	Start, End int
}

const ver = `([0-9]+\.[0-9]+\.[0-9]+)`

// form is a pin pattern: its group 1 is the version; files says which
// files it applies to.
type form struct {
	name  string
	re    *regexp.Regexp
	files func(p string) bool
}

func isDockerfile(p string) bool {
	b := strings.ToLower(path.Base(p))
	return strings.HasPrefix(b, "dockerfile") || strings.HasPrefix(b, "containerfile") ||
		strings.HasSuffix(b, ".dockerfile") || strings.HasSuffix(b, ".containerfile")
}

func isEnvLike(p string) bool {
	b := strings.ToLower(path.Base(p))
	return strings.HasSuffix(b, ".yml") || strings.HasSuffix(b, ".yaml") || b == ".env" || strings.HasSuffix(b, ".env")
}

func anyFile(string) bool { return true }

var forms = []form{
	{"dockerfile", regexp.MustCompile(`(?m)^[ \t]*(?:ARG|ENV)[ \t]+NGINX_VERSION(?:[ \t]*=[ \t]*|[ \t]+)["']?` + ver + `\b`), isDockerfile},
	{"env", regexp.MustCompile(`(?m)^[ \t]*(?:-[ \t]*|export[ \t]+)?NGINX_VERSION[ \t]*[:=][ \t]*["']?` + ver + `\b`), isEnvLike},
	{"tarball", regexp.MustCompile(`\bnginx-` + ver + `\.tar\.gz\b`), anyFile},
	{"image", regexp.MustCompile(`\bnginx:` + ver + `(?:-[A-Za-z0-9._-]+)?\b`), anyFile},
	{"release-tag", regexp.MustCompile(`\brelease-` + ver + `\b`), anyFile},
}

// Candidate reports whether a repository file may hold pins worth
// reading: Dockerfiles, YAML, .env, shell and make files, and the like.
func Candidate(p string) bool {
	if isDockerfile(p) || isEnvLike(p) {
		return true
	}
	b := strings.ToLower(path.Base(p))
	if b == "makefile" || b == "gnumakefile" {
		return true
	}
	switch path.Ext(b) {
	case ".sh", ".bash", ".mk", ".toml", ".json", ".hcl", ".tf", ".cfg", ".ini", ".conf", ".nix", ".txt":
		return true
	}
	return false
}

// Find returns the occurrences of pin in one file by the built-in forms.
func Find(p string, data []byte, pin string) []Occurrence {
	var out []Occurrence
	for _, f := range forms {
		if !f.files(p) {
			continue
		}
		for _, m := range f.re.FindAllSubmatchIndex(data, -1) {
			if string(data[m[2]:m[3]]) == pin {
				out = append(out, Occurrence{Path: p, Form: f.name, Line: lineOf(data, m[2]), Start: m[2], End: m[3]})
			}
		}
	}
	return dedupe(out)
}

// Pinned is an nginx version a file pins, found without knowing it.
type Pinned struct {
	Path, Form, Version string
	Line                int
}

// FindAny returns every nginx version pinned in one file by the built-in
// forms (what init reads to learn a repository's pin).
func FindAny(p string, data []byte) []Pinned {
	var out []Pinned
	for _, f := range forms {
		if !f.files(p) {
			continue
		}
		for _, m := range f.re.FindAllSubmatchIndex(data, -1) {
			out = append(out, Pinned{Path: p, Form: f.name, Version: string(data[m[2]:m[3]]), Line: lineOf(data, m[2])})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// FindDeclared returns the occurrences of pin that a declared pattern
// matches; none is an error naming the file and the pattern.
func FindDeclared(f config.BumpFile, data []byte, pin string) ([]Occurrence, error) {
	g := f.Regexp.SubexpIndex("version")
	var out []Occurrence
	var seen []string
	for _, m := range f.Regexp.FindAllSubmatchIndex(data, -1) {
		if m[2*g] < 0 {
			continue
		}
		v := string(data[m[2*g]:m[2*g+1]])
		seen = append(seen, v)
		if v == pin {
			out = append(out, Occurrence{Path: f.Path, Form: "declared", Line: lineOf(data, m[2*g]), Start: m[2*g], End: m[2*g+1]})
		}
	}
	if len(out) == 0 {
		found := "nothing"
		if len(seen) > 0 {
			found = strings.Join(seen, ", ")
		}
		return nil, fmt.Errorf("bump.files: %s: pattern %q matches no %s (it matches %s): fix the pattern or the pin", f.Path, f.Pattern, pin, found)
	}
	return out, nil
}

// FindConfig returns the config's nginx.pin occurrence, located by the
// parser's line and column.
func FindConfig(p string, data []byte, pin string, pos config.Pos) (Occurrence, error) {
	off := 0
	for line := 1; line < pos.Line; line++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return Occurrence{}, fmt.Errorf("%s: nginx.pin is not at line %d", p, pos.Line)
		}
		off += i + 1
	}
	start := off + pos.Column - 1
	if start < 0 || start > len(data) {
		return Occurrence{}, fmt.Errorf("%s:%d:%d: nginx.pin is not there", p, pos.Line, pos.Column)
	}
	// A quoted scalar's column is its quote.
	i := bytes.Index(data[start:], []byte(pin))
	if i < 0 || i > 2 {
		return Occurrence{}, fmt.Errorf("%s:%d:%d: nginx.pin %s is not there", p, pos.Line, pos.Column, pin)
	}
	return Occurrence{Path: p, Form: "config", Line: pos.Line, Start: start + i, End: start + i + len(pin)}, nil
}

func lineOf(data []byte, off int) int {
	return bytes.Count(data[:off], []byte("\n")) + 1
}

func dedupe(occ []Occurrence) []Occurrence {
	sort.SliceStable(occ, func(i, j int) bool { return occ[i].Start < occ[j].Start })
	var out []Occurrence
	for _, o := range occ {
		if len(out) > 0 && out[len(out)-1].Start == o.Start {
			continue
		}
		out = append(out, o)
	}
	return out
}

// Apply replaces every occurrence (all in one file) with target; every
// other byte stays as it was.
func Apply(data []byte, occ []Occurrence, target string) []byte {
	occ = dedupe(append([]Occurrence(nil), occ...))
	var b bytes.Buffer
	last := 0
	for _, o := range occ {
		b.Write(data[last:o.Start])
		b.WriteString(target)
		last = o.End
	}
	b.Write(data[last:])
	return b.Bytes()
}

// LineText is the text of line n (1-based) without its line ending.
func LineText(data []byte, n int) string {
	lines := bytes.Split(data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimRight(string(lines[n-1]), "\r")
}
