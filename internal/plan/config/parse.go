package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/safename"
)

// Parse validates config file contents. file names the file in errors;
// root is the directory module paths are relative to. All mistakes are
// returned, one positioned line each, joined.
func Parse(file, root string, data []byte) (*Config, error) {
	cfg := Default()
	cfg.File = file
	cfg.Root = root

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(file, err)
	}
	d := &decoder{file: file}
	if doc.Kind == 0 || len(doc.Content) == 0 ||
		doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		cfg.Modules = rootModule(root) // an empty file: every default
		return cfg, nil
	}
	top := doc.Content[0]
	modulesSeen := false
	d.mapping(top, "the config", map[string]func(*yaml.Node){
		"nginx": func(n *yaml.Node) { d.nginx(n, &cfg.Nginx) },
		"modules": func(n *yaml.Node) {
			modulesSeen = true
			cfg.Modules = d.modules(n, root)
		},
		"configure": func(n *yaml.Node) { cfg.Configure = d.configure(n) },
		"distros":   func(n *yaml.Node) { cfg.Distros = d.distros(n) },
		"arch":      func(n *yaml.Node) { cfg.Arch = d.arch(n) },
		"runs-on":   func(n *yaml.Node) { d.runsOn(n, cfg.RunsOn) },
		"smoke":     func(n *yaml.Node) { d.smoke(n, &cfg.Smoke) },
		"bump":      func(n *yaml.Node) { d.bump(n, &cfg.Bump) },
		"packages":  func(n *yaml.Node) { d.packages(n, &cfg.Packages) },
	})
	if !modulesSeen {
		cfg.Modules = rootModule(root)
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return cfg, nil
}

// rootModule is the default module list: the repository itself, when it
// has an nginx module config file at its root.
func rootModule(root string) []Module {
	if fi, err := os.Stat(filepath.Join(root, "config")); err == nil && !fi.IsDir() {
		return []Module{{Path: "."}}
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

type decoder struct {
	file string
	errs []error
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	// A value echoed in a message is the user's: never megabytes of it.
	if len(msg) > maxMsg {
		msg = msg[:maxMsg] + fmt.Sprintf("... (%d more bytes)", len(msg)-maxMsg)
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Msg: msg})
}

// maxMsg bounds one error message.
const maxMsg = 600

// mapping calls each field's function with its value node; unknown and
// repeated keys are errors.
func (d *decoder) mapping(n *yaml.Node, what string, fields map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of keys to values, not %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		if !ok {
			d.errorf(k, "unknown key %q in %s%s", k.Value, what, suggest(k.Value, fields))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "key %q repeated in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		f(v)
	}
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be a string, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// line is a string of one line with no control characters: a value that
// becomes a field of a package's control file, where a newline would
// start a field of its own (Pre-Depends:).
func (d *decoder) line(n *yaml.Node, what string) string {
	v, ok := d.str(n, what)
	if !ok {
		return ""
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			d.errorf(n, "%s must be one line of text with no control characters (it becomes a field of the package's control file)", what)
			return ""
		}
	}
	return v
}

// list returns the items of a sequence; a scalar is an error with an
// example of the list form, so `distros: debian-12` is caught early.
// boolean sets *out from a true/false scalar; what is the error's start
// ("x must be true or false"), completed with the value given.
func (d *decoder) boolean(n *yaml.Node, out *bool, what string) {
	v, err := strconv.ParseBool(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		d.errorf(n, "%s, not %q", what, n.Value)
		return
	}
	*out = v
}

func (d *decoder) list(n *yaml.Node, what, example string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, e.g. %s, not %s", what, example, kindName(n))
		return nil
	}
	return n.Content
}

// eachString calls fn with every entry of the list n that is a string;
// entries that are not are said (as "each"), as a non-list n is.
func (d *decoder) eachString(n *yaml.Node, what, example, each string, fn func(item *yaml.Node, s string)) {
	for _, item := range d.list(n, what, example) {
		if s, ok := d.str(item, each); ok {
			fn(item, s)
		}
	}
}

func (d *decoder) strList(n *yaml.Node, what, example string) []string {
	var out []string
	d.eachString(n, what, example, "each entry of "+what, func(_ *yaml.Node, s string) { out = append(out, s) })
	return out
}

// Arguments nginx-modbuild passes itself; a config must not pass them again.
var reserved = []string{"--with-compat", "--add-module", "--add-dynamic-module", "--prefix", "--builddir"}

func (d *decoder) configure(n *yaml.Node) []string {
	var out []string
	d.eachString(n, "configure", "[--with-http_ssl_module]", "a configure argument", func(item *yaml.Node, s string) {
		if !strings.HasPrefix(s, "--") {
			d.errorf(item, "configure argument %q must start with -- (e.g. --with-http_ssl_module)", s)
			return
		}
		name, _, _ := strings.Cut(s, "=")
		if slices.Contains(reserved, name) {
			d.errorf(item, "configure argument %s is set by nginx-modbuild itself; remove it", name)
			return
		}
		out = append(out, s)
	})
	return out
}

// customDistro reads a distro given as a mapping: a custom one {name,
// image, family[, packaged][, like]}, or a built-in name with the
// packaged nginx version the config gives; ok is false when it is
// refused (said).
func (d *decoder) customDistro(item *yaml.Node) (dist distro.Distro, ok bool) {
	var name, image, family, packaged, likePath string
	var packagedNode, likeNode *yaml.Node
	d.mapping(item, "a custom distro", map[string]func(*yaml.Node){
		"name":   func(n *yaml.Node) { name, _ = d.str(n, "distro name") },
		"image":  func(n *yaml.Node) { image, _ = d.str(n, "distro image") },
		"family": func(n *yaml.Node) { family, _ = d.str(n, "distro family") },
		"packaged": func(n *yaml.Node) {
			if packaged, _ = d.str(n, "the distro's packaged nginx version"); packaged != "" {
				packagedNode = n
			}
		},
		"like": func(n *yaml.Node) {
			likePath, _ = d.str(n, "like (the path of the image's nginx, e.g. /usr/sbin/nginx)")
			likeNode = n
		},
	})
	if likeNode != nil && !strings.HasPrefix(likePath, "/") {
		d.errorf(likeNode, "distro %s: like: %q is not an absolute path: give the path of the image's nginx (e.g. /usr/sbin/nginx)", name, likePath)
		return dist, false
	}
	if likeNode != nil && packaged == "" {
		d.errorf(likeNode, "distro %s: like: needs packaged: 1.x.y, the version of the image's nginx (docker run --rm %s %s -v), to plan its one cell", name, image, likePath)
		return dist, false
	}
	if packagedNode != nil {
		if _, err := nginxver.Parse(packaged); err != nil {
			d.errorf(packagedNode, "distro %s: packaged: %v", name, err)
			return dist, false
		}
	}
	// A built-in name with no image and family: the built-in entry,
	// with the packaged nginx version the config gives.
	if b, ok := distro.Lookup(name); ok && image == "" && family == "" && likePath == "" {
		b.Packaged = cmp.Or(packaged, b.Packaged)
		return b, true
	}
	f, err := distro.ParseFamily(family)
	switch {
	case name == "" || image == "":
		d.errorf(item, "a custom distro needs name, image and family (apt, dnf, yum or apk)")
		return dist, false
	case err != nil:
		d.errorf(item, "distro %s: %v", name, err)
		return dist, false
	}
	if err := safename.Check("distro name", name); err != nil {
		d.errorf(item, "%v", err)
		return dist, false
	}
	if !imageRef.MatchString(image) {
		d.errorf(item, "distro %s: image %q is not a container image reference (e.g. debian:12 or ghcr.io/owner/image:tag)", name, image)
		return dist, false
	}
	dist = distro.Custom(name, image, f)
	dist.Packaged, dist.Like = packaged, likePath
	return dist, true
}

func (d *decoder) distros(n *yaml.Node) []distro.Distro {
	items := d.list(n, "distros", "[debian-12, ubuntu-24.04]")
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		d.errorf(n, "distros is empty: list at least one, e.g. [debian-12]")
	}
	var out []distro.Distro
	seen := map[string]bool{}
	for _, item := range items {
		var dist distro.Distro
		switch item.Kind {
		case yaml.ScalarNode:
			b, ok := distro.Lookup(item.Value)
			if !ok {
				d.errorf(item, "unknown distro %q (known: %s; or give {name, image, family})", item.Value, distro.Names())
				continue
			}
			dist = b
		case yaml.MappingNode:
			var ok bool
			if dist, ok = d.customDistro(item); !ok {
				continue
			}
		default:
			d.errorf(item, "a distro is a name such as debian-12 or {name, image, family}, not %s", kindName(item))
			continue
		}
		if seen[dist.Name] {
			d.errorf(item, "distro %s listed twice", dist.Name)
			continue
		}
		seen[dist.Name] = true
		out = append(out, dist)
	}
	return out
}

var arches = []string{"amd64", "arm64"}

func (d *decoder) arch(n *yaml.Node) []string {
	var out []string
	items := d.list(n, "arch", "[amd64, arm64]")
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		d.errorf(n, "arch is empty: list at least one of amd64, arm64")
	}
	for _, item := range items {
		s, ok := d.str(item, "an architecture")
		if !ok {
			continue
		}
		switch {
		case !slices.Contains(arches, s):
			d.errorf(item, "unknown arch %q (want amd64 or arm64)", s)
		case slices.Contains(out, s):
			d.errorf(item, "arch %s listed twice", s)
		default:
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) runsOn(n *yaml.Node, out map[string]string) {
	fields := map[string]func(*yaml.Node){}
	for _, a := range arches {
		fields[a] = func(n *yaml.Node) {
			if s, ok := d.str(n, "runs-on."+a); ok {
				out[a] = s
			}
		}
	}
	d.mapping(n, "runs-on", fields)
}

func (d *decoder) smoke(n *yaml.Node, out *Smoke) {
	d.mapping(n, "smoke", map[string]func(*yaml.Node){
		"config": func(n *yaml.Node) { out.Config, _ = d.str(n, "smoke.config") },
		"request": func(n *yaml.Node) {
			s, ok := d.str(n, "smoke.request")
			if ok && !strings.HasPrefix(s, "/") {
				d.errorf(n, "smoke.request %q must be a path starting with /, e.g. /t", s)
				return
			}
			out.Request = s
		},
	})
	if out.Request != "" && out.Config == "" {
		d.errorf(n, "smoke.request needs smoke.config: a server{}-level snippet that serves it")
	}
}

var pkgVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]{0,63}$`)

func (d *decoder) packages(n *yaml.Node, out *Packages) {
	d.mapping(n, "packages", map[string]func(*yaml.Node){
		"enabled": func(n *yaml.Node) {
			d.boolean(n, &out.Enabled, "packages.enabled must be true or false")
		},
		"name": func(n *yaml.Node) {
			s, ok := d.str(n, "packages.name")
			probe := strings.NewReplacer("{short}", "x", "{module}", "x").Replace(s)
			if ok && !regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]{0,99}$`).MatchString(probe) {
				d.errorf(n, "packages.name %q: a package name is lower-case letters, digits, '+', '-' and '.' ({short} and {module} are replaced)", s)
				return
			}
			out.Name = s
		},
		"version": func(n *yaml.Node) {
			s, ok := d.str(n, "packages.version")
			if ok && !pkgVersion.MatchString(s) {
				d.errorf(n, "packages.version %q must start with a digit (e.g. 0.63): deb, rpm and apk order versions", s)
				return
			}
			out.Version = s
		},
		"maintainer": func(n *yaml.Node) { out.Maintainer = d.line(n, "packages.maintainer") },
		"homepage":   func(n *yaml.Node) { out.Homepage = d.line(n, "packages.homepage") },
		"license":    func(n *yaml.Node) { out.License = d.line(n, "packages.license") },
	})
}

func (d *decoder) bump(n *yaml.Node, out *Bump) {
	d.mapping(n, "bump", map[string]func(*yaml.Node){
		"policy": func(n *yaml.Node) {
			s, ok := d.str(n, "bump.policy")
			if ok && s != PolicyLine && s != PolicyLatest {
				d.errorf(n, "bump.policy %q: want %s (the newest release of the pin's line) or %s (the newest of any tracked line)", s, PolicyLine, PolicyLatest)
				return
			}
			out.Policy = s
		},
		"labels": func(n *yaml.Node) { out.Labels = d.strList(n, "bump.labels", "[dependencies]") },
		"wait": func(n *yaml.Node) {
			d.boolean(n, &out.Wait, "bump.wait must be true or false (hold the pull request until every cell of the new version built)")
		},
		"files": func(n *yaml.Node) {
			for _, item := range d.list(n, "bump.files", `[{path: Makefile, pattern: 'NGINX ?= (?P<version>\S+)'}]`) {
				var f BumpFile
				d.mapping(item, "a bump.files entry", map[string]func(*yaml.Node){
					"path": func(n *yaml.Node) {
						if s, ok := d.str(n, "bump.files path"); ok {
							if filepath.IsAbs(s) || strings.HasPrefix(filepath.Clean(s), "..") {
								d.errorf(n, "bump.files path %q must be inside the repository", s)
								return
							}
							f.Path = filepath.ToSlash(filepath.Clean(s))
						}
					},
					"pattern": func(n *yaml.Node) {
						s, ok := d.str(n, "bump.files pattern")
						if !ok {
							return
						}
						re, err := regexp.Compile(s)
						if err != nil {
							d.errorf(n, "bump.files pattern: %v", err)
							return
						}
						if re.SubexpIndex("version") < 0 {
							d.errorf(n, "bump.files pattern %q has no group named version, e.g. (?P<version>[0-9.]+)", s)
							return
						}
						f.Pattern, f.Regexp = s, re
					},
				})
				if item.Kind == yaml.MappingNode && (f.Path == "" || f.Pattern == "") && len(d.errs) == 0 {
					d.errorf(item, "a bump.files entry needs path and pattern")
				}
				if f.Path != "" && f.Regexp != nil {
					out.Files = append(out.Files, f)
				}
			}
		},
	})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

// suggest names the closest known key when a key looks like a typo.
func suggest(key string, fields map[string]func(*yaml.Node)) string {
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestDist := "", 3
	for _, k := range names {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
