package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/nginx-modbuild/nginx-modbuild/internal/ldso"
	"github.com/nginx-modbuild/nginx-modbuild/internal/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/nginxconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/preflight"
)

// inspected is one file in inspect's JSON output.
type inspected struct {
	Path  string `json:"path"`
	Error string `json:"error,omitempty"`
	*modinfo.File
}

func runInspect(_ context.Context, env *Env, args []string) error {
	c := findCommand("inspect")
	fs := flagSet(env, c.name, c.args, c.desc)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("inspect: name at least one .so file or nginx binary")
	}
	var out []inspected
	failed := 0
	for _, p := range fs.Args() {
		path := p
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.Dir, path)
		}
		f, err := modinfo.Open(path)
		item := inspected{Path: p, File: f}
		if err != nil {
			failed++
			item.Error = strings.TrimPrefix(err.Error(), path+": ")
		}
		out = append(out, item)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tMODULE\tBUILT FOR\tSIGNATURE\tCOMPAT")
		for _, it := range out {
			switch {
			case it.Error != "":
				fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\n", it.Path, it.Error)
			case it.Kind == modinfo.KindExecutable:
				fmt.Fprintf(tw, "%s\t(nginx, %d built-in modules)\t%s\t%s\t%s\n", it.Path, len(it.Modules),
					it.Nginx(), cmp.Or(it.Signature, "?"), compatWord(it.Signature))
			default:
				for _, m := range it.Modules {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Path, m.Name, m.Nginx(), m.Signature, compatWord(m.Signature))
				}
			}
		}
		tw.Flush()
	}
	if failed > 0 {
		return fmt.Errorf("inspect: %d of %d files are not nginx modules or binaries", failed, len(out))
	}
	return nil
}

func compatWord(sig string) string {
	s, err := modinfo.ParseSignature(sig)
	switch {
	case err != nil:
		return "?"
	case s.Compat():
		return "yes"
	}
	return "no"
}

func runCheck(ctx context.Context, env *Env, args []string) error {
	c := findCommand("check")
	fs := flagSet(env, c.name, c.args, c.desc)
	var conf, target, nginxBin, nginxV, prefix string
	var asJSON bool
	fs.StringVar(&conf, "conf", "/etc/nginx/nginx.conf", "the nginx configuration to check (includes are followed)")
	fs.StringVar(&target, "target", "", "the nginx version (1.26.3) or NGINX Plus release (R34, PLS.37.0.4.1) to upgrade to")
	fs.StringVar(&nginxBin, "nginx", "", "the nginx binary to upgrade to (read, not run)")
	fs.StringVar(&nginxV, "nginx-v", "", "the output of `nginx -v` or `nginx -V` of the nginx to upgrade to")
	fs.StringVar(&prefix, "prefix", "", "nginx's prefix for relative load_module paths (default: from the binary's or nginx -V's --prefix, else "+preflight.DefaultPrefix+")")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a report")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("check: unexpected argument %q", fs.Arg(0))
	}
	given := 0
	for _, s := range []string{target, nginxBin, nginxV} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return usagef("check: give exactly one of --target VERSION|R34|PLS.37.0.4.1, --nginx /path/to/nginx or --nginx-v \"$(nginx -V 2>&1)\"")
	}
	t, err := checkTarget(env, target, nginxBin, nginxV)
	if err != nil {
		return err
	}
	prefixFrom := ""
	switch {
	case prefix != "":
		t.Prefix, prefixFrom = prefix, "--prefix"
	case t.Prefix != "":
		prefixFrom = t.Source
	default:
		t.Prefix, prefixFrom = installedPrefix(env)
	}
	if !filepath.IsAbs(conf) {
		conf = filepath.Join(env.Dir, conf)
	}
	loads, err := nginxconf.LoadModules(ctx, conf)
	if err != nil {
		return usagef("check: %v", err)
	}
	rep := preflight.Check(t, loads, modinfo.Open)
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(env, conf, rep, prefixFrom)
	}
	bad := 0
	for _, r := range rep.Results {
		if r.Status != preflight.OK {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("check: %d of %d load_module directives would fail with nginx %s", bad, len(rep.Results), t.Nginx)
	}
	return nil
}

func checkTarget(env *Env, target, nginxBin, nginxV string) (preflight.Target, error) {
	switch {
	case nginxBin != "":
		path := nginxBin
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.Dir, path)
		}
		f, err := modinfo.Open(path)
		if err != nil {
			return preflight.Target{}, usagef("check: --nginx: %v", err)
		}
		t, err := preflight.FromBinary(nginxBin, f)
		if err != nil {
			return preflight.Target{}, usagef("check: --nginx: %v", err)
		}
		// The binary is on this host: its libraries are too.
		t.Path, t.Libs = path, ldso.New()
		return t, nil
	case nginxV != "":
		b, err := plus.Embedded().ParseNginxV(nginxV)
		if err != nil {
			return preflight.Target{}, usagef("check: --nginx-v: %v", err)
		}
		configure := ""
		if i := strings.Index(nginxV, "configure arguments:"); i >= 0 {
			configure = strings.TrimSpace(strings.SplitN(nginxV[i+len("configure arguments:"):], "\n", 2)[0])
		}
		t, err := preflight.FromVersion(b.Version, "nginx -v", configure)
		if err != nil {
			return preflight.Target{}, usagef("check: --nginx-v: %v", err)
		}
		if b.Plus != "" {
			t.Plus = b.Plus
			t.Compat = true
		}
		return t, nil
	}
	if _, err := modinfo.VersionNumber(target); err == nil {
		return preflight.FromVersion(target, "--target "+target, "")
	}
	m, err := plus.Embedded().Lookup(target)
	if err != nil {
		return preflight.Target{}, usagef("check: --target: %q is neither an nginx version (1.26.3) nor a known NGINX Plus release: %v", target, err)
	}
	t, err := preflight.FromVersion(m.Base, "--target "+target, "")
	if err != nil {
		return preflight.Target{}, err
	}
	t.Plus = m.Release
	return t, nil
}

// installedPrefix is the prefix of the nginx installed here (read from its
// binary, not run), which an upgrade in place keeps; nginx's default when
// there is none.
func installedPrefix(env *Env) (prefix, from string) {
	candidates := []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"}
	for _, dir := range filepath.SplitList(env.Getenv("PATH")) {
		if dir != "" {
			candidates = append(candidates, filepath.Join(dir, "nginx"))
		}
	}
	for _, c := range candidates {
		if f, err := modinfo.Open(c); err == nil && f.Configure != "" {
			return preflight.PrefixOf(f.Configure), "the installed " + c
		}
	}
	return preflight.DefaultPrefix, "nginx's default"
}

func printReport(env *Env, conf string, rep preflight.Report, prefixFrom string) {
	t := rep.Target
	what := "nginx " + t.Nginx
	if t.Plus != "" {
		what = fmt.Sprintf("NGINX Plus %s (nginx %s)", t.Plus, t.Nginx)
	}
	w := env.Stdout
	fmt.Fprintf(w, "Checking %s against %s (from %s; prefix %s from %s)\n", conf, what, t.Source, t.Prefix, prefixFrom)
	if len(rep.Results) == 0 {
		fmt.Fprintln(w, "No load_module directives: nothing to rebuild.")
		return
	}
	for _, r := range rep.Results {
		fmt.Fprintf(w, "\n%s:%d: load_module %s\n", r.File, r.Line, r.Path)
		names := make([]string, 0, len(r.Modules))
		for _, m := range r.Modules {
			names = append(names, fmt.Sprintf("%s (built for %s)", m.Name, m.Nginx()))
		}
		if len(names) > 0 {
			fmt.Fprintf(w, "  modules: %s\n", strings.Join(names, ", "))
		}
		fmt.Fprintf(w, "  %s", strings.ToUpper(string(r.Status)))
		if r.Why != "" {
			fmt.Fprintf(w, ": %s", r.Why)
		}
		fmt.Fprintln(w)
		for _, d := range r.Differences {
			fmt.Fprintf(w, "    - %s\n", d)
		}
		if r.Nginx != "" {
			fmt.Fprintf(w, "  nginx -t will say: nginx: [emerg] %s\n", r.Nginx)
		}
		if r.Build != "" {
			fmt.Fprintf(w, "  build %s: nginx-modbuild build --nginx %s (or download it from the module's release)\n", r.Build, t.Nginx)
		}
	}
	ok := 0
	for _, r := range rep.Results {
		if r.Status == preflight.OK {
			ok++
		}
	}
	fmt.Fprintf(w, "\n%d of %d load_module directives load into %s.\n", ok, len(rep.Results), what)
}
