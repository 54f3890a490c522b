// Package modconf reads an nginx module's `config` file without running
// it: which modules it defines, into which .so files, whether it is a
// new-style config (ngx_module_* and auto/module, needed for dynamic
// modules) or an old-style one, and which shell variables it sets and
// reads, to order configs that depend on each other.
package modconf

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Style is the kind of config file.
type Style string

// Config styles: new-style configs call auto/module and can build dynamic
// modules; old-style ones only append to nginx's module lists, and nginx
// silently builds no .so for them.
const (
	NewStyle Style = "new"
	OldStyle Style = "old"
)

// SO is one shared object a config produces: one auto/module call.
type SO struct {
	// Name is the .so's base name: the first module of the call.
	Name string `json:"name"`
	// Modules are every module in it.
	Modules []string `json:"modules"`
	Type    string   `json:"type"`
	Libs    []string `json:"libs,omitempty"`
}

// Config is what a module config file says.
type Config struct {
	Dir       string `json:"dir"`
	AddonName string `json:"addon_name"`
	Style     Style  `json:"style"`
	SOs       []SO   `json:"sos"`
	// Sets and Uses are the module's own shell variables it assigns and
	// reads (nginx's own variables are left out).
	Sets, Uses []string `json:"-"`
}

var (
	assign     = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	autoModule = regexp.MustCompile(`^\s*\.\s+auto/module\s*(?:;.*)?$`)
	varRef     = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	appendList = regexp.MustCompile(`^\s*(HTTP_MODULES|HTTP_FILTER_MODULES|HTTP_AUX_FILTER_MODULES|HTTP_INIT_FILTER_MODULES|STREAM_MODULES|MAIL_MODULES|CORE_MODULES)="\$(?:\{)?(?:HTTP_MODULES|HTTP_FILTER_MODULES|HTTP_AUX_FILTER_MODULES|HTTP_INIT_FILTER_MODULES|STREAM_MODULES|MAIL_MODULES|CORE_MODULES)(?:\})?\s+([^"]*)"`)
)

// typeOfList maps nginx's module lists to ngx_module_type values.
var typeOfList = map[string]string{
	"HTTP_MODULES": "HTTP", "HTTP_FILTER_MODULES": "HTTP_FILTER", "HTTP_AUX_FILTER_MODULES": "HTTP_AUX_FILTER",
	"HTTP_INIT_FILTER_MODULES": "HTTP_INIT_FILTER", "STREAM_MODULES": "STREAM", "MAIL_MODULES": "MAIL", "CORE_MODULES": "CORE",
}

// Analyze reads dir/config.
func Analyze(dir string) (*Config, error) {
	path := filepath.Join(dir, "config")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", dir, err)
	}
	c, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Dir = dir
	return c, nil
}

// Parse analyses config file text.
func Parse(text string) (*Config, error) {
	c := &Config{Style: OldStyle}
	vars := map[string]string{"ngx_addon_dir": "$ngx_addon_dir"}
	sets, uses := map[string]bool{}, map[string]bool{}
	if strings.Contains(text, "ngx_module_link") || regexp.MustCompile(`(?m)^\s*\.\s+auto/module`).MatchString(text) {
		c.Style = NewStyle
	}
	for _, line := range logicalLines(text) {
		for _, m := range varRef.FindAllStringSubmatch(line, -1) {
			uses[m[1]] = true
		}
		if autoModule.MatchString(line) {
			names := strings.Fields(vars["ngx_module_name"])
			if len(names) == 0 {
				return nil, fmt.Errorf("auto/module called with no ngx_module_name set")
			}
			so := SO{Name: names[0], Modules: names, Type: vars["ngx_module_type"]}
			if libs := strings.Fields(vars["ngx_module_libs"]); len(libs) > 0 {
				so.Libs = libs
			}
			c.SOs = append(c.SOs, so)
			continue
		}
		if m := appendList.FindStringSubmatch(line); m != nil && c.Style == OldStyle {
			names := strings.Fields(expand(m[2], vars))
			if len(names) > 0 {
				c.SOs = append(c.SOs, SO{Name: names[0], Modules: names, Type: typeOfList[m[1]]})
			}
		}
		if m := assign.FindStringSubmatch(line); m != nil {
			vars[m[1]] = expand(unquote(m[2]), vars)
			sets[m[1]] = true
		}
	}
	c.AddonName = vars["ngx_addon_name"]
	if len(c.SOs) == 0 {
		return nil, fmt.Errorf("no module found: neither an auto/module call nor an addition to HTTP_MODULES (or another module list)")
	}
	c.Sets, c.Uses = own(sets), own(uses)
	return c, nil
}

// Names lists every module the config defines.
func (c *Config) Names() []string {
	var out []string
	for _, so := range c.SOs {
		out = append(out, so.Modules...)
	}
	return out
}

// logicalLines joins backslash-continued lines and drops comments.
func logicalLines(text string) []string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if i := commentStart(l); i >= 0 {
			l = l[:i]
		}
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// commentStart finds a # that starts a shell comment (outside quotes, at
// the start of a word).
func commentStart(l string) int {
	var quote byte
	for i := 0; i < len(l); i++ {
		ch := l[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t'):
			return i
		}
	}
	return -1
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if j := strings.IndexByte(v[1:], v[0]); j >= 0 {
			return v[1 : j+1]
		}
	}
	if i := strings.IndexAny(v, " \t;"); i >= 0 {
		return v[:i]
	}
	return v
}

func expand(v string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(v, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		if val, ok := vars[name]; ok {
			return val
		}
		return ref
	})
}

// own drops nginx's own variables (set by auto/ scripts), leaving the
// module's.
func own(set map[string]bool) []string {
	var out []string
	for v := range set {
		if nginxVar(v) {
			continue
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func nginxVar(v string) bool {
	for _, p := range []string{"ngx_", "NGX_", "HTTP_", "STREAM_", "MAIL_", "CORE_", "EVENT_", "USE_", "DYNAMIC_", "MODULES"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	switch v {
	case "CC", "CFLAGS", "CPP", "LINK", "PCRE", "OPENSSL", "ZLIB", "have", "PATH", "HOME":
		return true
	}
	return false
}

// Deps lists, for each config, the earlier-defined configs it needs at
// configure time: those that set a variable it reads but does not set
// itself (set-misc reads $NDK_SRCS, which ngx_devel_kit sets).
func Deps(cfgs []*Config) [][]int {
	setBy := map[string]int{}
	for i, c := range cfgs {
		for _, v := range c.Sets {
			if _, dup := setBy[v]; !dup {
				setBy[v] = i
			}
		}
	}
	deps := make([][]int, len(cfgs))
	for i, c := range cfgs {
		for _, v := range c.Uses {
			if j, ok := setBy[v]; ok && j != i && !slices.Contains(c.Sets, v) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	return deps
}

// Order returns the indices of cfgs in configure order: a config comes
// after the configs it needs (Deps); otherwise the given order.
func Order(cfgs []*Config) ([]int, error) {
	deps := Deps(cfgs)
	var out []int
	state := make([]int, len(cfgs)) // 0 new, 1 visiting, 2 done
	var visit func(int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("module configs %s and others depend on each other in a cycle", cfgs[i].Dir)
		case 2:
			return nil
		}
		state[i] = 1
		for _, j := range deps[i] {
			if err := visit(j); err != nil {
				return err
			}
		}
		state[i] = 2
		out = append(out, i)
		return nil
	}
	for i := range cfgs {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}
