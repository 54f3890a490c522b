// Package internal_test holds the tree's roles apart: a package imports
// only from its own role and the roles below it, so the folders show the
// flow (plan -> cell -> publish -> host) over the base (platform, elf).
package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/nginx-modbuild/nginx-modbuild/"

// rank orders the roles: a package may import its own rank and below.
// testing (test support) is a side room: only tests and other test
// support may import it.
var rank = map[string]int{
	"internal/platform": 0, // the machine's and the network's edges: files, HTTP, GitHub, Actions, names
	"internal/elf":      1, // reading .so files and nginx binaries, the loader's view of libraries
	"internal/plan":     2, // what to build: config, upstream releases, NGINX Plus, bump
	"matrix":            2, // the plan's pure core (at the root by the project's layout rule)
	"internal/cell":     3, // building one cell: sources, module configs, compile, smoke, tests
	"internal/publish":  4, // releases, packages, signed repositories, provenance
	"internal/host":     5, // an operator's host: install, nginx.conf, the upgrade check
	"internal/cli":      6, // the commands
	"action":            6, // the Actions adapter
	"cmd":               7,
	"examples":          0, // the example workflows, embedded
	"internal/testing":  -1,
}

// roleOf is the role a package path (relative to the module) is in.
func roleOf(pkg string) (string, bool) {
	for r := range rank {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return r, true
		}
	}
	return "", false
}

func TestRolesImportDownward(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var problems []string
	seen := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		if pkg == "internal" {
			return nil // this test
		}
		from, ok := roleOf(pkg)
		if !ok {
			problems = append(problems, pkg+": in no role folder (internal/{platform,elf,plan,cell,publish,host,testing,cli}, matrix, action, cmd)")
			return nil
		}
		seen[from] = true
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		test := strings.HasSuffix(path, "_test.go")
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module) {
				continue
			}
			to, ok := roleOf(strings.TrimPrefix(p, module))
			switch {
			case !ok:
				problems = append(problems, rel+" imports "+p+", which is in no role")
			case to == "internal/testing" && !test && from != "internal/testing":
				problems = append(problems, rel+" imports test support "+p+" outside a test")
			case from != "internal/testing" && to != "internal/testing" && rank[to] > rank[from] && !test:
				problems = append(problems, rel+" ("+from+") imports "+p+" ("+to+"), a role above it")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"internal/platform", "internal/elf", "internal/plan", "internal/cell", "internal/publish", "internal/host", "internal/testing"} {
		if !seen[r] {
			t.Errorf("no package found in %s: run in the repository's internal directory", r)
		}
	}
	entries, _ := os.ReadDir(".")
	for _, e := range entries {
		if _, ok := rank["internal/"+e.Name()]; e.IsDir() && !ok {
			problems = append(problems, "internal/"+e.Name()+": not a role folder")
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}
