package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// maxFuncLines bounds a function of this package: a command reads in one
// screen.
const maxFuncLines = 60

// sharedFiles hold what every command may use; every other file belongs
// to the command it is named after (build.go, build_packages.go: build).
var sharedFiles = map[string]bool{"cli.go": true, "shared.go": true}

// TestCommandShape keeps the package's shape (issue 22): no function over
// 60 lines, and no command's file calling a helper defined in another
// command's file; what two commands share lives in shared.go.
func TestCommandShape(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{} // top-level name -> file
	parsed := map[string]*ast.File{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed[name] = f
		for _, decl := range f.Decls {
			for _, n := range declNames(decl) {
				if n != "_" {
					owner[n] = name
				}
			}
		}
	}
	if len(parsed) < 10 {
		t.Fatalf("found only %d files: run in the package directory", len(parsed))
	}
	var problems []string
	for name, f := range parsed {
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
				problems = append(problems, name+": "+fd.Name.Name+" has "+strconv.Itoa(n)+" lines")
			}
		}
		if sharedFiles[name] {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			def, ok := owner[id.Name]
			if ok && def != name && !sharedFiles[def] && commandOf(def) != commandOf(name) {
				problems = append(problems, name+" uses "+id.Name+" from "+def)
			}
			return true
		})
	}
	sort.Strings(problems)
	for _, p := range dedupe(problems) {
		t.Error(p)
	}
}

// commandOf is the command a file belongs to: its name up to the first '_'.
func commandOf(file string) string {
	base := strings.TrimSuffix(file, ".go")
	c, _, _ := strings.Cut(base, "_")
	return c
}

// declNames are the package-level names a declaration defines (methods
// are reached through their receivers, so they are left out).
func declNames(decl ast.Decl) []string {
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			return []string{d.Name.Name}
		}
	case *ast.GenDecl:
		var out []string
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				out = append(out, s.Name.Name)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					out = append(out, n.Name)
				}
			}
		}
		return out
	}
	return nil
}

func dedupe(ss []string) []string {
	var out []string
	for i, s := range ss {
		if i == 0 || ss[i-1] != s {
			out = append(out, s)
		}
	}
	return out
}
