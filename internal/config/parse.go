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
	"time"

	"github.com/hashicorp/go-version"
	"gopkg.in/yaml.v3"

	"github.com/nginx-modbuild/nginx-modbuild/internal/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plus"
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

func (d *decoder) strList(n *yaml.Node, what, example string) []string {
	var out []string
	for _, item := range d.list(n, what, example) {
		if s, ok := d.str(item, "each entry of "+what); ok {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) nginx(n *yaml.Node, out *Nginx) {
	d.mapping(n, "nginx", map[string]func(*yaml.Node){
		"lines": func(n *yaml.Node) {
			out.Lines = nil
			seen := map[nginxver.Line]bool{}
			for _, item := range d.list(n, "nginx.lines", "[stable, mainline]") {
				s, ok := d.str(item, "a release line")
				if !ok {
					continue
				}
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
			}
		},
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
		"versions": func(n *yaml.Node) {
			for _, item := range d.list(n, "nginx.versions", "[1.26.3]") {
				s, ok := d.str(item, "an nginx version")
				if !ok {
					continue
				}
				// YAML reads 1.26 as a float; nginxver.Parse rejects it too.
				if _, err := nginxver.Parse(s); err != nil {
					d.errorf(item, "%v", err)
					continue
				}
				out.Versions = append(out.Versions, s)
			}
		},
		"plus": func(n *yaml.Node) {
			for _, item := range d.list(n, "nginx.plus", "[R34, PLS.37.0.4.1]") {
				s, ok := d.str(item, "an NGINX Plus release")
				if !ok {
					continue
				}
				m, err := plus.Embedded().Lookup(s)
				if err != nil {
					d.errorf(item, "%v", err)
					continue
				}
				out.Plus = append(out.Plus, m.Release)
			}
		},
		"sha256": func(n *yaml.Node) {
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
		},
		"source": func(n *yaml.Node) {
			out.Source, _ = d.str(n, "nginx.source (a directory, or a .tar.gz path or URL with {version}, its checksum under nginx.sha256)")
		},
		"packaged": func(n *yaml.Node) {
			d.boolean(n, &out.Packaged, "nginx.packaged must be true or false (also build the nginx version each distro's own package ships)")
		},
		"pin": func(n *yaml.Node) {
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
		},
	})
}

// imageRef is a container image reference: registry/path:tag@digest.
var imageRef = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]{0,200}(:[A-Za-z0-9._-]{1,128})?(@sha256:[0-9a-f]{64})?$`)

var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

var gitRef = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}$`)

var gitURL = regexp.MustCompile(`^(https?://|ssh://|git://|file://|git@[^:]+:)\S+$`)

func (d *decoder) modules(n *yaml.Node, root string) []Module {
	items := d.list(n, "modules", "[{path: .}]")
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		d.errorf(n, "modules is empty: list at least one module, e.g. - path: .")
	}
	var out []Module
	seen := map[string]bool{}
	for _, item := range items {
		m := Module{Pos: Pos{item.Line, item.Column}}
		d.mapping(item, "a module", map[string]func(*yaml.Node){
			"path": func(n *yaml.Node) { m.Path, _ = d.str(n, "module path") },
			"git":  func(n *yaml.Node) { m.Git, _ = d.str(n, "module git URL") },
			"ref":  func(n *yaml.Node) { m.Ref, _ = d.str(n, "module ref") },
			"env":  func(n *yaml.Node) { m.Env = d.moduleEnv(n) },
			"libs": func(n *yaml.Node) { m.Libs = d.moduleLibs(n) },
			"packages": func(n *yaml.Node) {
				m.Packages = d.modulePackages(n)
			},
			"requires": func(n *yaml.Node) {
				m.Requires = d.strList(n, "module requires", "[../ngx_devel_kit]")
				m.RequiresPos = Pos{n.Line, n.Column}
			},
			"test": func(n *yaml.Node) { m.Test = d.moduleTest(n) },
			"release": func(n *yaml.Node) {
				release := true
				d.boolean(n, &release, "a module's release must be true or false (false: built for the tests and checks only, never released or packaged)")
				m.NoRelease = !release
			},
		})
		if item.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case m.Path != "" && m.Git != "":
			d.errorf(item, "a module has either path or git, not both")
			continue
		case m.Path == "" && m.Git == "":
			d.errorf(item, "a module needs path (a directory with an nginx module config file) or git (a repository URL)")
			continue
		case m.Ref != "" && m.Git == "":
			d.errorf(item, "ref goes with git, not path")
			continue
		case m.Git != "" && !gitURL.MatchString(m.Git):
			d.errorf(item, "module git %q is not a repository URL (want https://..., ssh://... or git@host:owner/repo)", m.Git)
			continue
		case m.Path != "":
			dir := m.Path
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(root, dir)
			}
			if fi, err := os.Stat(filepath.Join(dir, "config")); err != nil || fi.IsDir() {
				d.errorf(item, "module path %q has no nginx module config file (looked for %s)", m.Path, filepath.Join(dir, "config"))
				continue
			}
		}
		if m.Ref != "" && !gitRef.MatchString(m.Ref) || strings.Contains(m.Ref, "..") {
			d.errorf(item, "module ref %q is not a tag, branch or commit name (letters, digits, '.', '_', '/', '+', '-'; not starting with '-')", m.Ref)
			continue
		}
		id := m.ID() + "@" + m.Ref
		if m.Path != "" {
			// path: mod and path: ./mod/ are one module.
			dir := m.Path
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(root, dir)
			}
			id = filepath.Clean(dir)
		}
		if seen[id] {
			d.errorf(item, "module %s listed twice", m.ID())
			continue
		}
		seen[id] = true
		out = append(out, m)
	}
	for _, m := range out {
		for _, r := range m.Requires {
			found := false
			for _, o := range out {
				found = found || o.ID() == r
			}
			if !found {
				d.errorf(&yaml.Node{Line: m.RequiresPos.Line, Column: m.RequiresPos.Column},
					"module %s requires %q, which is not a module in this config (name it by its path or git URL exactly as written)", m.ID(), r)
			}
		}
	}
	return out
}

var (
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	linkArg = regexp.MustCompile(`^-(l[A-Za-z0-9_.+-]+|L/[A-Za-z0-9_./+-]+|Wl,[A-Za-z0-9_.,/=+-]+)$`)
	pkgName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+:-]*$`)
	// reservedEnv are variables a module's env: may not set: what the
	// shell, the compiler and the dynamic loader act on by themselves
	// (LD_AUDIT, BASH_ENV and ENV run code, IFS reparses every word of
	// configure).
	reservedEnv = []string{"PATH", "HOME", "CC", "CFLAGS", "LDFLAGS", "CPATH", "LIBRARY_PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT",
		"BASH_ENV", "ENV", "IFS", "PS4", "SHELLOPTS", "CDPATH", "GCONV_PATH", "GCC_EXEC_PREFIX", "COMPILER_PATH"}
)

// moduleEnv reads a module's env: variables its config reads when
// configure runs it (LUAJIT_INC: /usr/include/luajit-2.1).
func (d *decoder) moduleEnv(n *yaml.Node) map[string]string {
	out := map[string]string{}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "module env must be a mapping of variable names to values, e.g. {LUAJIT_INC: /usr/include/luajit-2.1}")
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !envName.MatchString(k.Value) || slices.Contains(reservedEnv, k.Value) || strings.HasPrefix(k.Value, "LD_") ||
			strings.HasPrefix(k.Value, "ngx_") || strings.HasPrefix(k.Value, "NGX_") || strings.HasPrefix(k.Value, "nmb_") {
			d.errorf(k, "module env: %q is not a variable a module config may be given (letters, digits and _; not PATH, CC, CFLAGS, IFS, BASH_ENV, the loader's LD_*, nginx's own ngx_/NGX_ names or the wrapper's nmb_)", k.Value)
			continue
		}
		val, ok := d.str(v, "module env value")
		if ok {
			out[k.Value] = val
		}
	}
	return out
}

// moduleLibs reads a module's libs: extra link arguments for its .so.
func (d *decoder) moduleLibs(n *yaml.Node) []string {
	var out []string
	for _, item := range d.list(n, "module libs", "[-lpcre]") {
		s, ok := d.str(item, "a link argument")
		if !ok {
			continue
		}
		if !linkArg.MatchString(s) {
			d.errorf(item, "module libs: %q is not a link argument nginx-modbuild passes on (want -lNAME, -L/dir or -Wl,...)", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// modulePackages reads packages: {apt: [...], dnf: [...], apk: [...]}.
func (d *decoder) modulePackages(n *yaml.Node) map[distro.Family][]string {
	out := map[distro.Family][]string{}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "module packages must map a package family to package names, e.g. {apt: [libmaxminddb-dev], dnf: [libmaxminddb-devel], apk: [libmaxminddb-dev]}")
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, err := distro.ParseFamily(k.Value)
		if err != nil {
			d.errorf(k, "module packages: %v", err)
			continue
		}
		for _, item := range d.list(v, "module packages", "[libmaxminddb-dev]") {
			p, ok := d.str(item, "a package name")
			if !ok {
				continue
			}
			if !pkgName.MatchString(p) {
				d.errorf(item, "module packages: %q is not a package name", p)
				continue
			}
			out[f] = append(out[f], p)
		}
	}
	return out
}

var (
	// skipKey is "t/x.t" or "t/x.t TEST 13".
	skipKey = regexp.MustCompile(`^([A-Za-z0-9_./-]+\.t)(?:\s+TEST\s+(\d+))?$`)
	// needName is one of nginx's own modules (image_filter, stream,
	// stream_realip, mail): configure decides whether it exists.
	needName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// moduleTest reads a module's test: {prove: t/ | run: CMD, skip: {...},
// packages: {...}, needs: [...], required: true}.
func (d *decoder) moduleTest(n *yaml.Node) *Test {
	t := &Test{Required: true, Pos: Pos{n.Line, n.Column}}
	d.mapping(n, "a module's test", map[string]func(*yaml.Node){
		"prove":    func(n *yaml.Node) { t.Prove = d.relPath(n, "test prove") },
		"run":      func(n *yaml.Node) { t.Run, _ = d.str(n, "test run") },
		"skip":     func(n *yaml.Node) { t.Skip = d.testSkips(n) },
		"packages": func(n *yaml.Node) { t.Packages = d.modulePackages(n) },
		"needs": func(n *yaml.Node) {
			for _, item := range d.list(n, "test needs", "[image_filter, stream]") {
				if s, ok := d.str(item, "each entry of test needs"); ok && !needName.MatchString(s) {
					d.errorf(item, "test needs: %q is not the name of an nginx module (image_filter, stream, realip: what --with-http_NAME_module or --with-NAME takes)", s)
				} else if ok {
					t.Needs = append(t.Needs, s)
				}
			}
		},
		"required": func(n *yaml.Node) { d.boolean(n, &t.Required, "test required must be true or false") },
		"timeout": func(n *yaml.Node) {
			if v, ok := d.str(n, "test timeout"); ok {
				if dur, err := time.ParseDuration(v); err != nil || dur <= 0 {
					d.errorf(n, "test timeout %q: want a duration such as 20m or 90s", v)
				} else {
					t.Timeout = dur
				}
			}
		},
	})
	if n.Kind == yaml.MappingNode && (t.Prove == "") == (t.Run == "") {
		d.errorf(n, "a module's test needs either prove (Test::Nginx files, e.g. prove: t/) or run (a command), not both or neither")
	}
	return t
}

// relPath is a path inside a module's directory: relative, no "..".
func (d *decoder) relPath(n *yaml.Node, what string) string {
	v, ok := d.str(n, what)
	if !ok {
		return ""
	}
	c := filepath.Clean(v)
	if filepath.IsAbs(v) || c == ".." || strings.HasPrefix(c, "../") {
		// Kept, so that only this error is said of it.
		d.errorf(n, "%s %q must be a path inside the module's directory (like t/)", what, v)
	}
	return c
}

// testSkips reads skip: {"t/eval.t": reason, "t/bug.t TEST 13": reason}.
func (d *decoder) testSkips(n *yaml.Node) []TestSkip {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "test skip must map a file or a block to the reason, e.g. {\"t/eval.t\": needs lua-nginx-module, \"t/bug.t TEST 13\": needs lua-nginx-module}")
		return nil
	}
	var out []TestSkip
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		m := skipKey.FindStringSubmatch(k.Value)
		if m == nil || strings.Contains(m[1], "..") {
			d.errorf(k, "test skip: %q is not a test file (t/x.t) or a block of one (t/x.t TEST 13)", k.Value)
			continue
		}
		reason, ok := d.str(v, "a skip's reason")
		if ok && strings.TrimSpace(reason) == "" {
			d.errorf(v, "test skip %q: say why it is skipped", k.Value)
			continue
		}
		block, _ := strconv.Atoi(m[2])
		out = append(out, TestSkip{File: filepath.Clean(m[1]), Block: block, Reason: reason, Pos: Pos{k.Line, k.Column}})
	}
	return out
}

// Arguments nginx-modbuild passes itself; a config must not pass them again.
var reserved = []string{"--with-compat", "--add-module", "--add-dynamic-module", "--prefix", "--builddir"}

func (d *decoder) configure(n *yaml.Node) []string {
	var out []string
	for _, item := range d.list(n, "configure", "[--with-http_ssl_module]") {
		s, ok := d.str(item, "a configure argument")
		if !ok {
			continue
		}
		if !strings.HasPrefix(s, "--") {
			d.errorf(item, "configure argument %q must start with -- (e.g. --with-http_ssl_module)", s)
			continue
		}
		name, _, _ := strings.Cut(s, "=")
		if slices.Contains(reserved, name) {
			d.errorf(item, "configure argument %s is set by nginx-modbuild itself; remove it", name)
			continue
		}
		out = append(out, s)
	}
	return out
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
				continue
			}
			if likeNode != nil && packaged == "" {
				d.errorf(likeNode, "distro %s: like: needs packaged: 1.x.y, the version of the image's nginx (docker run --rm %s %s -v), to plan its one cell", name, image, likePath)
				continue
			}
			if packagedNode != nil {
				if _, err := nginxver.Parse(packaged); err != nil {
					d.errorf(packagedNode, "distro %s: packaged: %v", name, err)
					continue
				}
			}
			// A built-in name with no image and family: the built-in entry,
			// with the packaged nginx version the config gives.
			if b, ok := distro.Lookup(name); ok && image == "" && family == "" && likePath == "" {
				b.Packaged = cmp.Or(packaged, b.Packaged)
				if seen[b.Name] {
					d.errorf(item, "distro %s listed twice", b.Name)
					continue
				}
				seen[b.Name] = true
				out = append(out, b)
				continue
			}
			f, err := distro.ParseFamily(family)
			switch {
			case name == "" || image == "":
				d.errorf(item, "a custom distro needs name, image and family (apt, dnf, yum or apk)")
				continue
			case err != nil:
				d.errorf(item, "distro %s: %v", name, err)
				continue
			}
			if err := manifest.CheckName("distro name", name); err != nil {
				d.errorf(item, "%v", err)
				continue
			}
			if !imageRef.MatchString(image) {
				d.errorf(item, "distro %s: image %q is not a container image reference (e.g. debian:12 or ghcr.io/owner/image:tag)", name, image)
				continue
			}
			dist = distro.Custom(name, image, f)
			dist.Packaged, dist.Like = packaged, likePath
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
