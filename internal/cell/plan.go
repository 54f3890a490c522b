package cell

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ConfigureArgs is the argv of nginx's configure for one group of modules:
// --with-compat unless noCompat (so the .so loads into any nginx of that
// version built --with-compat, e.g. distribution packages and NGINX Plus),
// the config's extra arguments, a build directory of the group's own, and
// the modules in dependency order.
func ConfigureArgs(builddir string, noCompat bool, extra, moduleDirs []string) []string {
	args := []string{"./configure"}
	if !noCompat {
		args = append(args, "--with-compat")
	}
	args = append(args, extra...)
	args = append(args, "--builddir="+builddir)
	for _, d := range moduleDirs {
		args = append(args, "--add-dynamic-module="+d)
	}
	return args
}

// MakeArgs is the argv of make for target in a group's build directory;
// -k keeps going past one module's errors so every other module is built.
func MakeArgs(builddir string, jobs int, targets ...string) []string {
	return append([]string{"make", "-f", filepath.Join(builddir, "Makefile"), "-j" + strconv.Itoa(max(jobs, 1)), "-k"}, targets...)
}

// Collisions returns, for each object path that two module directories
// compile to, the directories involved.
func (m Makefile) Collisions(moduleDirs []string) map[string][]string {
	out := map[string][]string{}
	for obj, srcs := range m.Sources {
		var dirs []string
		for _, s := range srcs {
			if d := owner(s, moduleDirs); d != "" && !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
		if len(dirs) > 1 {
			sort.Strings(dirs)
			out[obj] = dirs
		}
	}
	return out
}

// owner returns the module directory a path lies in.
func owner(path string, moduleDirs []string) string {
	best := ""
	for _, d := range moduleDirs {
		if strings.HasPrefix(path, d+"/") && len(d) > len(best) {
			best = d
		}
	}
	return best
}

// Split assigns modules (indices into dirs, in configure order) to as few
// configure groups as keeps colliding modules apart. Modules tied by
// configure-time needs (either way, transitively) go together: each such
// set joins the first group holding none any of them collides with. A
// set whose own members collide cannot be built.
func Split(dirs []string, collisions map[string][]string, needs [][]int) ([][]int, error) {
	clash := map[[2]string]bool{}
	for _, ds := range collisions {
		for _, a := range ds {
			for _, b := range ds {
				if a != b {
					clash[[2]string{a, b}] = true
				}
			}
		}
	}
	comp := components(len(dirs), needs)
	var sets [][]int
	for i, c := range comp {
		for len(sets) <= c {
			sets = append(sets, nil)
		}
		sets[c] = append(sets[c], i)
	}
	var groups [][]int
	for _, set := range sets {
		for _, i := range set {
			for _, j := range set {
				if clash[[2]string{dirs[i], dirs[j]}] {
					return nil, fmt.Errorf("module %s collides with %s, which configure-time needs tie it to: they cannot be built in one configure", dirs[i], dirs[j])
				}
			}
		}
		choice := -1
		for g, members := range groups {
			if !clashes(clash, dirs, set, members) {
				choice = g
				break
			}
		}
		if choice < 0 {
			groups = append(groups, nil)
			choice = len(groups) - 1
		}
		groups[choice] = append(groups[choice], set...)
		slices.Sort(groups[choice])
	}
	return groups, nil
}

// clashes tells whether any module of a collides with any of b.
func clashes(clash map[[2]string]bool, dirs []string, a, b []int) bool {
	for _, i := range a {
		for _, j := range b {
			if clash[[2]string{dirs[i], dirs[j]}] {
				return true
			}
		}
	}
	return false
}

// Diagnostic is one compiler message.
type Diagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column,omitempty"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

var diagnostic = regexp.MustCompile(`(?m)^([^:\s][^:\n]*):(\d+):(?:(\d+):)? (error|warning|fatal error): (.*)$`)

// ParseDiagnostics finds gcc/clang errors and warnings in build output.
func ParseDiagnostics(log string) []Diagnostic {
	var out []Diagnostic
	for _, m := range diagnostic.FindAllStringSubmatch(log, -1) {
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		sev := m[4]
		if sev == "fatal error" {
			sev = "error"
		}
		out = append(out, Diagnostic{File: m[1], Line: line, Column: col, Severity: sev, Message: m[5]})
	}
	return out
}

var addingModule = regexp.MustCompile(`(?m)^adding module in (\S+)$`)

// ConfigureCulprit names the module directory configure was reading when
// it failed, if it failed inside a module's config.
func ConfigureCulprit(log string, moduleDirs []string) string {
	all := addingModule.FindAllStringSubmatch(log, -1)
	if len(all) == 0 {
		return ""
	}
	last := all[len(all)-1][1]
	// "+ <name> was configured" after the last one means that module
	// finished; the failure came later, from nginx itself.
	if tail := log[strings.LastIndex(log, "adding module in "+last):]; strings.Contains(tail, " was configured") {
		return ""
	}
	for _, d := range moduleDirs {
		if d == last {
			return d
		}
	}
	return ""
}
