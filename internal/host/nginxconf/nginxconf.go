// Package nginxconf reads an nginx configuration as far as loading modules
// needs: it tokenizes like nginx's ngx_conf_read_token (comments, single and
// double quotes, backslash escapes, blocks), follows `include` in the main
// context (globs sorted like glob(3), paths relative to the configuration's
// directory) and returns every `load_module` with the file and line it is on.
package nginxconf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
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

// MaxFile is the largest configuration file read; maxLoads bounds the
// load_module directives one configuration may expand to (includes of
// includes can multiply them).
const (
	MaxFile  = 16 << 20
	maxLoads = 100000
)

// LoadModules reads the main configuration file and returns its
// load_module directives in the order nginx meets them. Each file is read
// and parsed once however often it is included; ctx stops the reading.
func LoadModules(ctx context.Context, main string) ([]LoadModule, error) {
	abs, err := filepath.Abs(main)
	if err != nil {
		return nil, err
	}
	r := &reader{ctx: ctx, confPrefix: filepath.Dir(abs), done: map[string][]LoadModule{}}
	return r.file(main, 0)
}

type reader struct {
	ctx        context.Context
	confPrefix string
	// done memoizes what each file expands to: a file included twice at
	// every level of 30 is read 30 times, not 2^30.
	done map[string][]LoadModule
}

func (r *reader) file(name string, depth int) ([]LoadModule, error) {
	if depth > maxDepth {
		return nil, &Error{File: name, Msg: fmt.Sprintf("includes nested more than %d deep (an include cycle?)", maxDepth)}
	}
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	if loads, ok := r.done[name]; ok {
		return loads, nil
	}
	data, err := userfile.Read(name, MaxFile)
	if err != nil {
		return nil, &Error{File: name, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}
	}
	stmts, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	var loads []LoadModule
	for _, s := range stmts {
		switch s.Name {
		case "load_module":
			if len(s.Args) != 1 || s.Block != nil {
				return nil, &Error{File: name, Line: s.Line, Msg: `invalid number of arguments in "load_module" directive`}
			}
			loads = append(loads, LoadModule{Path: s.Args[0], File: name, Line: s.Line})
		case "include":
			if len(s.Args) != 1 || s.Block != nil {
				return nil, &Error{File: name, Line: s.Line, Msg: `invalid number of arguments in "include" directive`}
			}
			more, err := r.include(name, s, depth)
			if err != nil {
				return nil, err
			}
			loads = append(loads, more...)
		}
		if len(loads) > maxLoads {
			return nil, &Error{File: name, Line: s.Line, Msg: fmt.Sprintf("expands to more than %d load_module directives (includes repeated at every level?)", maxLoads)}
		}
	}
	r.done[name] = loads
	return loads, nil
}

// unwrapPath drops the *PathError wrapper (the file is named already).
func unwrapPath(err error) error {
	if u := errors.Unwrap(err); u != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return u
		}
	}
	return err
}

func (r *reader) include(from string, s Statement, depth int) ([]LoadModule, error) {
	pat := s.Args[0]
	if !filepath.IsAbs(pat) {
		pat = filepath.Join(r.confPrefix, pat)
	}
	if !strings.ContainsAny(pat, "*?[") {
		if _, err := os.Stat(pat); err != nil {
			return nil, &Error{File: from, Line: s.Line, Msg: fmt.Sprintf("include %q: %v", s.Args[0], errors.Unwrap(err))}
		}
		return r.file(pat, depth+1)
	}
	matches, err := filepath.Glob(pat)
	if err != nil {
		return nil, &Error{File: from, Line: s.Line, Msg: fmt.Sprintf("include %q: bad pattern", s.Args[0])}
	}
	sort.Strings(matches)
	hidden := strings.HasPrefix(filepath.Base(pat), ".")
	var loads []LoadModule
	for _, m := range matches {
		// glob(3) does not match a leading dot with a wildcard.
		if !hidden && strings.HasPrefix(filepath.Base(m), ".") {
			continue
		}
		if st, err := os.Stat(m); err != nil || st.IsDir() {
			continue
		}
		more, err := r.file(m, depth+1)
		if err != nil {
			return nil, err
		}
		loads = append(loads, more...)
		if len(loads) > maxLoads {
			return nil, &Error{File: from, Line: s.Line, Msg: fmt.Sprintf("include %q expands to more than %d load_module directives", s.Args[0], maxLoads)}
		}
	}
	return loads, nil
}
