package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// imageRef is a container image reference: registry/path:tag@digest.
var imageRef = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]{0,200}(:[A-Za-z0-9._-]{1,128})?(@sha256:[0-9a-f]{64})?$`)

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
		m, ok := d.module(item, root)
		if !ok {
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
	d.checkRequires(out)
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

// module reads one entry of modules: path or git (with ref), and what
// its build needs; ok is false when the entry is refused (said).
func (d *decoder) module(item *yaml.Node, root string) (Module, bool) {
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
		return m, false
	}
	switch {
	case m.Path != "" && m.Git != "":
		d.errorf(item, "a module has either path or git, not both")
		return m, false
	case m.Path == "" && m.Git == "":
		d.errorf(item, "a module needs path (a directory with an nginx module config file) or git (a repository URL)")
		return m, false
	case m.Ref != "" && m.Git == "":
		d.errorf(item, "ref goes with git, not path")
		return m, false
	case m.Git != "" && !gitURL.MatchString(m.Git):
		d.errorf(item, "module git %q is not a repository URL (want https://..., ssh://... or git@host:owner/repo)", m.Git)
		return m, false
	case m.Path != "":
		dir := m.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		if fi, err := os.Stat(filepath.Join(dir, "config")); err != nil || fi.IsDir() {
			d.errorf(item, "module path %q has no nginx module config file (looked for %s)", m.Path, filepath.Join(dir, "config"))
			return m, false
		}
	}
	if m.Ref != "" && !gitRef.MatchString(m.Ref) || strings.Contains(m.Ref, "..") {
		d.errorf(item, "module ref %q is not a tag, branch or commit name (letters, digits, '.', '_', '/', '+', '-'; not starting with '-')", m.Ref)
		return m, false
	}
	return m, true
}

// checkRequires refuses a requires: naming no module of the config.
func (d *decoder) checkRequires(out []Module) {
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
}

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
	d.eachString(n, "module libs", "[-lpcre]", "a link argument", func(item *yaml.Node, s string) {
		if !linkArg.MatchString(s) {
			d.errorf(item, "module libs: %q is not a link argument nginx-modbuild passes on (want -lNAME, -L/dir or -Wl,...)", s)
			return
		}
		out = append(out, s)
	})
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
		d.eachString(v, "module packages", "[libmaxminddb-dev]", "a package name", func(item *yaml.Node, p string) {
			if !pkgName.MatchString(p) {
				d.errorf(item, "module packages: %q is not a package name", p)
				return
			}
			out[f] = append(out[f], p)
		})
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
// packages: {...}, needs: [...], required: true, jobs: N, timeout: D}.
func (d *decoder) moduleTest(n *yaml.Node) *Test {
	t := &Test{Required: true, Pos: Pos{n.Line, n.Column}}
	d.mapping(n, "a module's test", map[string]func(*yaml.Node){
		"prove":    func(n *yaml.Node) { t.Prove = d.relPath(n, "test prove") },
		"run":      func(n *yaml.Node) { t.Run, _ = d.str(n, "test run") },
		"skip":     func(n *yaml.Node) { t.Skip = d.testSkips(n) },
		"packages": func(n *yaml.Node) { t.Packages = d.modulePackages(n) },
		"needs": func(n *yaml.Node) {
			d.eachString(n, "test needs", "[image_filter, stream]", "each entry of test needs", func(item *yaml.Node, s string) {
				if !needName.MatchString(s) {
					d.errorf(item, "test needs: %q is not the name of an nginx module (image_filter, stream, realip: what --with-http_NAME_module or --with-NAME takes)", s)
					return
				}
				t.Needs = append(t.Needs, s)
			})
		},
		"required": func(n *yaml.Node) { d.boolean(n, &t.Required, "test required must be true or false") },
		"jobs": func(n *yaml.Node) {
			if v, err := strconv.Atoi(n.Value); n.Kind != yaml.ScalarNode || err != nil || v < 1 || v > 64 {
				d.errorf(n, "test jobs %q: want how many test files run at once, 1 to 64 (leave it out to run them one at a time, as prove does)", n.Value)
			} else {
				t.Jobs = v
			}
		},
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
