package config

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-version"
	"gopkg.in/yaml.v3"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
)

func (d *decoder) nginx(n *yaml.Node, out *Nginx) {
	d.mapping(n, "nginx", map[string]func(*yaml.Node){
		"lines": func(n *yaml.Node) { d.nginxLines(n, out) },
		"latest": func(n *yaml.Node) {
			v, err := strconv.Atoi(n.Value)
			if n.Kind != yaml.ScalarNode || err != nil || v < 0 || v > 100 {
				d.errorf(n, "nginx.latest must be a whole number from 0 to 100 (how many of each line's newest releases to build), not %q", n.Value)
				return
			}
			out.Latest = v
		},
		"constraint": func(n *yaml.Node) {
			s, ok := d.str(n, "nginx.constraint")
			if !ok {
				return
			}
			c, err := version.NewConstraint(s)
			if err != nil {
				d.errorf(n, "bad version constraint %q: %v (e.g. \">= 1.24, < 2.0\")", s, err)
				return
			}
			out.Constraint, out.constraint = s, c
		},
		"versions": func(n *yaml.Node) { d.nginxVersions(n, out) },
		"plus":     func(n *yaml.Node) { d.nginxPlus(n, out) },
		"sha256":   func(n *yaml.Node) { d.nginxSHA256(n, out) },
		"source": func(n *yaml.Node) {
			out.Source, _ = d.str(n, "nginx.source (a directory, or a .tar.gz path or URL with {version}, its checksum under nginx.sha256)")
		},
		"packaged": func(n *yaml.Node) {
			d.boolean(n, &out.Packaged, "nginx.packaged must be true or false (also build the nginx version each distro's own package ships)")
		},
		"pin": func(n *yaml.Node) { d.nginxPin(n, out) },
	})
}

// nginxLines reads nginx.lines: release lines, each once.
func (d *decoder) nginxLines(n *yaml.Node, out *Nginx) {
	out.Lines = nil
	seen := map[nginxver.Line]bool{}
	d.eachString(n, "nginx.lines", "[stable, mainline]", "a release line", func(item *yaml.Node, s string) {
		l, err := nginxver.ParseLine(s)
		switch {
		case err != nil:
			d.errorf(item, "%v", err)
		case seen[l]:
			d.errorf(item, "release line %q listed twice", s)
		default:
			seen[l] = true
			out.Lines = append(out.Lines, l)
		}
	})
}

// nginxVersions reads nginx.versions: nginx versions always built.
func (d *decoder) nginxVersions(n *yaml.Node, out *Nginx) {
	d.eachString(n, "nginx.versions", "[1.26.3]", "an nginx version", func(item *yaml.Node, s string) {
		// YAML reads 1.26 as a float; nginxver.Parse rejects it too.
		if _, err := nginxver.Parse(s); err != nil {
			d.errorf(item, "%v", err)
			return
		}
		out.Versions = append(out.Versions, s)
	})
}

// nginxPlus reads nginx.plus: NGINX Plus releases, built as their base versions.
func (d *decoder) nginxPlus(n *yaml.Node, out *Nginx) {
	d.eachString(n, "nginx.plus", "[R34, PLS.37.0.4.1]", "an NGINX Plus release", func(item *yaml.Node, s string) {
		m, err := plus.Embedded().Lookup(s)
		if err != nil {
			d.errorf(item, "%v", err)
			return
		}
		out.Plus = append(out.Plus, m.Release)
	})
}

// nginxSHA256 reads nginx.sha256: pinned tarball checksums by version.
func (d *decoder) nginxSHA256(n *yaml.Node, out *Nginx) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "nginx.sha256 must map versions to checksums, e.g. {1.26.3: 69ee2b...}, not %s", kindName(n))
		return
	}
	out.SHA256 = map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, err := nginxver.Parse(k.Value); err != nil {
			d.errorf(k, "nginx.sha256: %v", err)
			continue
		}
		if !sha256Hex.MatchString(v.Value) {
			d.errorf(v, "nginx.sha256: %q is not a SHA-256 (64 hex digits)", v.Value)
			continue
		}
		out.SHA256[k.Value] = strings.ToLower(v.Value)
	}
}

// nginxPin reads nginx.pin: the version bump advances.
func (d *decoder) nginxPin(n *yaml.Node, out *Nginx) {
	s, ok := d.str(n, "nginx.pin")
	if !ok {
		return
	}
	if _, err := nginxver.Parse(s); err != nil {
		d.errorf(n, "nginx.pin: %v", err)
		return
	}
	out.Pin = s
	out.PinPos = Pos{Line: n.Line, Column: n.Column}
}

var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
