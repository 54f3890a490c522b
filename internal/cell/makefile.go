package cell

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Makefile is what configure generated that the build needs to know. It
// is the truth about what `make modules` builds: nginx wrote it after
// running every module's config.
type Makefile struct {
	// SOs are the shared objects `make modules` builds, in the order
	// configure declared them.
	SOs []SO
	// Sources maps each addon object file to the sources compiled into it:
	// more than one means two modules collide on one object path.
	Sources map[string][]string
	// Binary is the nginx binary's link: its objects' sources (relative to
	// the nginx source tree) and its libraries (-l, -L and file arguments).
	BinarySources []string
	BinaryLibs    []string
	// Targets are the files and names the Makefile has a rule for (a
	// config.make's too: njs's libnjs.a, nginx-acme's cargo-built
	// library).
	Targets map[string]bool
}

// SO is one shared object in the Makefile.
type SO struct {
	// Path is where make writes it (in the build directory).
	Path string
	// Sources are the files compiled into it (absolute for addons,
	// relative to the nginx tree for nginx's own modules).
	Sources []string
	// Libs are the link arguments after its objects (ngx_module_libs).
	Libs []string
}

// Name is the .so's base name without the extension: its first module.
func (s SO) Name() string {
	return strings.TrimSuffix(filepath.Base(s.Path), ".so")
}

var (
	modulesTarget = regexp.MustCompile(`(?m)^modules:[ \t]+(\S+\.so)[ \t]*$`)
	ruleTarget    = regexp.MustCompile(`(?m)^([^\s#:=.][^\s:=]*)[ \t]*:(?:[^=]|$)`)
	objectRule    = regexp.MustCompile(`(?m)^(\S+\.o):[ \t]+\$\((?:ADDON_DEPS|CORE_DEPS)\)[^\n]*\\\n(?:[ \t]+\S+[ \t]*\\\n)*[ \t]+(\S+)[ \t]*\n`)
)

// rule returns the prerequisites and the recipe's words of target. nginx
// writes a blank line between a link rule's prerequisites and its recipe.
func rule(text, target string) (prereqs, recipe []string, ok bool) {
	text = "\n" + text
	start := strings.Index(text, "\n"+target+":")
	if start < 0 {
		return nil, nil, false
	}
	lines := strings.Split(text[start+len(target)+2:], "\n")
	inRecipe := false
	for i, line := range lines {
		if strings.TrimSpace(line) == "" {
			if !inRecipe && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t$(") {
				continue
			}
			break
		}
		if strings.HasPrefix(line, "\t$(") {
			inRecipe = true
		}
		for _, w := range strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), "\\")) {
			if inRecipe {
				recipe = append(recipe, w)
			} else {
				prereqs = append(prereqs, w)
			}
		}
	}
	return prereqs, recipe, true
}

// ParseMakefile reads a generated objs/Makefile.
func ParseMakefile(text string) Makefile {
	m := Makefile{Sources: map[string][]string{}, Targets: map[string]bool{}}
	for _, r := range ruleTarget.FindAllStringSubmatch(text, -1) {
		m.Targets[r[1]] = true
	}
	source := map[string]string{}
	for _, r := range objectRule.FindAllStringSubmatch(text, -1) {
		source[r[1]] = r[2]
		if !strings.Contains(r[1], "/addon/") {
			continue
		}
		if !slices.Contains(m.Sources[r[1]], r[2]) {
			m.Sources[r[1]] = append(m.Sources[r[1]], r[2])
		}
	}
	// An object may appear in several rules (two modules, one path): map
	// an object to all its sources so a collision is visible.
	sourcesOf := func(objs []string) []string {
		var out []string
		for _, o := range objs {
			if !strings.HasSuffix(o, ".o") || strings.HasSuffix(o, "_modules.o") || strings.HasSuffix(o, "/ngx_modules.o") {
				continue
			}
			if srcs := m.Sources[o]; len(srcs) > 0 {
				out = append(out, srcs...)
			} else if s, ok := source[o]; ok {
				out = append(out, s)
			}
		}
		return out
	}
	for _, s := range modulesTarget.FindAllStringSubmatch(text, -1) {
		so := SO{Path: s[1]}
		prereqs, recipe, _ := rule(text, s[1])
		so.Sources = sourcesOf(prereqs)
		so.Libs = linkLibs(recipe, so.Path)
		m.SOs = append(m.SOs, so)
	}
	for _, target := range []string{"binary"} {
		prereqs, _, ok := rule(text, target)
		if !ok || len(prereqs) == 0 {
			continue
		}
		objs, recipe, _ := rule(text, prereqs[0])
		m.BinarySources = sourcesOf(objs)
		m.BinaryLibs = linkLibs(recipe, prereqs[0])
	}
	return m
}

// linkLibs are the words of a link recipe that name libraries.
func linkLibs(recipe []string, out string) []string {
	var libs []string
	for _, w := range recipe {
		switch {
		case w == out || w == "-o" || strings.HasPrefix(w, "$("):
		case strings.HasPrefix(w, "-l"), strings.HasPrefix(w, "-L"):
			libs = append(libs, w)
		case strings.HasSuffix(w, ".a"), strings.Contains(w, ".so") && !strings.HasSuffix(w, ".o"):
			libs = append(libs, w)
		}
	}
	return libs
}

// readMakefile parses builddir/Makefile.
func readMakefile(builddir string) (Makefile, error) {
	b, err := os.ReadFile(filepath.Join(builddir, "Makefile"))
	if err != nil {
		return Makefile{}, err
	}
	return ParseMakefile(string(b)), nil
}

// ModuleNames reads the modules configure compiled into a .so: its
// generated objs/<name>_modules.c lists them in ngx_module_names.
func ModuleNames(soPath string) []string {
	b, err := os.ReadFile(strings.TrimSuffix(soPath, ".so") + "_modules.c")
	if err != nil {
		return nil
	}
	text := string(b)
	i := strings.Index(text, "ngx_module_names[]")
	if i < 0 {
		return nil
	}
	text = text[i:]
	if j := strings.Index(text, "};"); j >= 0 {
		text = text[:j]
	}
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

var quoted = regexp.MustCompile(`"([^"]+)"`)
