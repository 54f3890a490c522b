// Package nginxconf reads an nginx configuration as far as loading modules
// needs: it tokenizes like nginx's ngx_conf_read_token (comments, single and
// double quotes, backslash escapes, blocks), follows `include` in the main
// context (globs sorted like glob(3), paths relative to the configuration's
// directory) and returns every `load_module` with the file and line it is on.
package nginxconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadModule is one load_module directive.
type LoadModule struct {
	// Path is the argument as written (unquoted).
	Path string
	// File and Line locate the directive.
	File string
	Line int
}

// Error is a problem in a configuration file, located like nginx does.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// maxDepth bounds include nesting (and so include cycles).
const maxDepth = 32

// LoadModules reads the main configuration file and returns its
// load_module directives in the order nginx meets them.
func LoadModules(main string) ([]LoadModule, error) {
	abs, err := filepath.Abs(main)
	if err != nil {
		return nil, err
	}
	r := &reader{confPrefix: filepath.Dir(abs)}
	if err := r.file(main, 0); err != nil {
		return nil, err
	}
	return r.loads, nil
}

type reader struct {
	confPrefix string
	loads      []LoadModule
}

func (r *reader) file(name string, depth int) error {
	if depth > maxDepth {
		return &Error{File: name, Msg: fmt.Sprintf("includes nested more than %d deep (an include cycle?)", maxDepth)}
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return &Error{File: name, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}
	}
	stmts, err := Parse(name, data)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		switch s.Name {
		case "load_module":
			if len(s.Args) != 1 || s.Block != nil {
				return &Error{File: name, Line: s.Line, Msg: `invalid number of arguments in "load_module" directive`}
			}
			r.loads = append(r.loads, LoadModule{Path: s.Args[0], File: name, Line: s.Line})
		case "include":
			if len(s.Args) != 1 || s.Block != nil {
				return &Error{File: name, Line: s.Line, Msg: `invalid number of arguments in "include" directive`}
			}
			if err := r.include(name, s, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reader) include(from string, s Statement, depth int) error {
	pat := s.Args[0]
	if !filepath.IsAbs(pat) {
		pat = filepath.Join(r.confPrefix, pat)
	}
	if !strings.ContainsAny(pat, "*?[") {
		if _, err := os.Stat(pat); err != nil {
			return &Error{File: from, Line: s.Line, Msg: fmt.Sprintf("include %q: %v", s.Args[0], errors.Unwrap(err))}
		}
		return r.file(pat, depth+1)
	}
	matches, err := filepath.Glob(pat)
	if err != nil {
		return &Error{File: from, Line: s.Line, Msg: fmt.Sprintf("include %q: bad pattern", s.Args[0])}
	}
	sort.Strings(matches)
	hidden := strings.HasPrefix(filepath.Base(pat), ".")
	for _, m := range matches {
		// glob(3) does not match a leading dot with a wildcard.
		if !hidden && strings.HasPrefix(filepath.Base(m), ".") {
			continue
		}
		if st, err := os.Stat(m); err != nil || st.IsDir() {
			continue
		}
		if err := r.file(m, depth+1); err != nil {
			return err
		}
	}
	return nil
}
