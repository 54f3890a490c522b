package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/nginxconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/safename"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// placed is what install put on the host for one module: its .so, its
// snippet in the layout's directory and, on Debian, the
// modules-available file the snippet links to.
type placed struct {
	module             string
	so, snippet, avail string
}

// Remove takes out what install placed for o.Modules (a module's
// snippet, its modules-available file and its .so), then runs o.Test
// (nginx -t): when the configuration still uses a module (its directives,
// or a module that needs it), every file is put back as it was. A module
// install did not place (a distro package's, a hand-made load_module) is
// refused before any change.
func Remove(ctx context.Context, o Options) (*Result, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Layout.Style == "" {
		return nil, fmt.Errorf("%s has no top-level include of a modules directory: install remove takes out what install placed there; remove a load_module you added by hand yourself", o.Host.ConfPath)
	}
	unlock, err := takeHost(o)
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := findPlaced(o.Host, o.Layout)
	if err != nil {
		return nil, err
	}
	var gone []placed
	for _, name := range o.Modules {
		if err := safename.Check("module", name); err != nil {
			return nil, err
		}
		p, err := pickPlaced(all, name, o.Layout)
		if err != nil {
			return nil, err
		}
		if err := loadedElsewhere(ctx, o.Host, p); err != nil {
			return nil, err
		}
		if o.Owner != nil {
			if pkg := o.Owner(p.so); pkg != "" {
				return nil, fmt.Errorf("refusing to remove %s: it is the package %s's file (the package manager installed it, whatever placed the snippet); nothing was changed: remove the package with its package manager", p.so, pkg)
			}
		}
		gone = append(gone, p)
	}
	res := &Result{}
	for _, p := range gone {
		res.Items = append(res.Items, Item{Entry: manifest.Entry{Module: p.module}, Dest: p.so, Snippet: p.snippet})
	}
	if o.DryRun {
		return res, nil
	}
	apply := func(t *tx) error {
		for _, p := range gone {
			for _, f := range []string{p.snippet, p.avail, p.so} {
				if f == "" {
					continue
				}
				if err := t.remove(f); err != nil {
					return err
				}
			}
		}
		return nil
	}
	hint := func(error) string {
		return "the configuration still uses what it removes: take its directives (or the modules that need it) out of the configuration first"
	}
	if res.Changes, err = change(ctx, o, apply, o.Test, "without the modules", hint); err != nil {
		return nil, err
	}
	return res, nil
}

// findPlaced lists the modules install placed: snippets in the layout's
// directory that hold exactly the line install writes, for a .so in the
// modules directory (a distro package's snippet says "modules/x.so", a
// relative path, and is not ours).
func findPlaced(h *Host, l Layout) ([]placed, error) {
	entries, err := os.ReadDir(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", l.Dir, err)
	}
	var out []placed
	for _, e := range entries {
		path := filepath.Join(l.Dir, e.Name())
		if !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		data, err := userfile.Read(path, 1<<20) // follows a modules-enabled link
		if err != nil {
			continue
		}
		line := strings.TrimSuffix(string(data), "\n")
		so, ok := strings.CutPrefix(line, "load_module ")
		so, ok2 := strings.CutSuffix(so, ";")
		if !ok || !ok2 || filepath.Dir(so) != filepath.Clean(h.ModulesPath) || strings.ContainsAny(so, " \n") {
			continue
		}
		module := strings.TrimSuffix(filepath.Base(so), ".so")
		prefix, _, _ := strings.Cut(e.Name(), "-")
		name, text := snippet(module, prefix, so)
		if name != e.Name() || text != string(data) {
			continue
		}
		p := placed{module: module, so: so, snippet: path}
		if l.Style == "debian" {
			target, err := os.Readlink(path)
			want := filepath.Join(l.Available, manifest.SnippetAvailable(name))
			if err != nil || target != want {
				continue
			}
			p.avail = want
		}
		out = append(out, p)
	}
	return out, nil
}

// pickPlaced is the placed module name means (ngx_http_echo_module or
// echo).
func pickPlaced(all []placed, name string, l Layout) (placed, error) {
	var names []string
	for _, p := range all {
		if Matches(p.module, name) {
			if _, err := os.Lstat(p.so); errors.Is(err, fs.ErrNotExist) {
				p.so = "" // its snippet without the .so: take the snippet out
			}
			return p, nil
		}
		names = append(names, p.module)
	}
	there := "none"
	if len(names) > 0 {
		there = strings.Join(names, ", ")
	}
	return placed{}, fmt.Errorf("%s: no module %q placed by nginx-modbuild install in %s (it placed: %s); a module from a distro package goes with the package manager", l.Dir, name, l.Dir, there)
}

// loadedElsewhere refuses a module whose .so another load_module of the
// configuration loads too (a line added by hand): removing the file would
// break it.
func loadedElsewhere(ctx context.Context, h *Host, p placed) error {
	loads, err := nginxconf.LoadModules(ctx, h.ConfPath)
	if err != nil {
		return err
	}
	snippet, _ := filepath.EvalSymlinks(p.snippet)
	for _, l := range loads {
		if filepath.Clean(h.loadPath(l.Path)) != p.so {
			continue
		}
		file, _ := filepath.EvalSymlinks(l.File)
		if l.File != p.snippet && file != snippet {
			return fmt.Errorf("%s:%d loads %s too: remove that line first (install remove takes out only what install placed)", l.File, l.Line, p.so)
		}
	}
	return nil
}
