package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/ldso"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/nginxconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/preflight"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/plus"
)

type checkOptions struct {
	conf, target, nginxBinary, nginxV, prefix string
	json                                      bool
}

func checkCommand() command {
	return newCommand[checkOptions]("check", "--conf /etc/nginx/nginx.conf [--target 1.26.3|R34|PLS.37.0.4.1 | --nginx-binary /usr/sbin/nginx | --nginx-v \"$(nginx -V 2>&1)\"] [--prefix DIR] [--json]",
		"predict whether every load_module of a configuration loads into the target nginx (default: the nginx installed here)", runCheck)
}

func (o *checkOptions) flags(fs *flag.FlagSet, d *Deps) {
	fs.StringVar(&o.conf, "conf", "/etc/nginx/nginx.conf", "the nginx configuration to check (includes are followed)")
	fs.StringVar(&o.target, "target", "", "the nginx version (1.26.3) or NGINX Plus release (R34, PLS.37.0.4.1) to upgrade to")
	fs.StringVar(&o.nginxBinary, "nginx-binary", "", "the nginx binary to upgrade to (read, not run)")
	fs.Var(renamed{&o.nginxBinary, "check --nginx PATH", "--nginx-binary PATH", d.Stderr}, "nginx", "the old spelling of --nginx-binary (deprecated)")
	fs.StringVar(&o.nginxV, "nginx-v", "", "the output of `nginx -v` or `nginx -V` of the nginx to upgrade to")
	fs.StringVar(&o.prefix, "prefix", "", "nginx's prefix for relative load_module paths (default: from the binary's or nginx -V's --prefix, else "+preflight.DefaultPrefix+")")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a report")
}

func (o *checkOptions) check(args []string, d *Deps) error {
	if err := noArgs("check", args); err != nil {
		return err
	}
	given := 0
	for _, s := range []string{o.target, o.nginxBinary, o.nginxV} {
		if s != "" {
			given++
		}
	}
	switch {
	case given == 0 && installedNginx(d) != "":
		// None: the nginx installed here (a re-check after a change, or
		// before a restart).
		o.nginxBinary = installedNginx(d)
		fmt.Fprintf(d.Stderr, "check: no target given: checking against the nginx installed here, %s\n", o.nginxBinary)
	case given != 1:
		return usagef("check: give exactly one of --target VERSION|R34|PLS.37.0.4.1, --nginx-binary /path/to/nginx or --nginx-v \"$(nginx -V 2>&1)\" (with none, the nginx installed here; there is none on PATH)")
	}
	o.conf = absIn(d.Dir, o.conf)
	return nil
}

// installedNginx is the nginx on PATH (else the distro's packaged
// path), when it is there; "" when there is none.
func installedNginx(d *Deps) string {
	p := d.Machine.Nginx()
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func runCheck(ctx context.Context, o *checkOptions, d *Deps) error {
	t, err := checkTarget(d, o.target, o.nginxBinary, o.nginxV)
	if err != nil {
		return err
	}
	prefixFrom := ""
	switch {
	case o.prefix != "":
		t.Prefix, prefixFrom = o.prefix, "--prefix"
	case t.Prefix != "":
		prefixFrom = t.Source
	default:
		t.Prefix, prefixFrom = installedPrefix(d.Machine)
	}
	loads, err := nginxconf.LoadModules(ctx, o.conf)
	if err != nil {
		return usagef("check: %v", err)
	}
	rep := preflight.Check(t, loads, modinfo.Open)
	if o.json {
		if err := printJSON(d.Stdout, rep); err != nil {
			return err
		}
	} else {
		printReport(d.Stdout, o.conf, rep, prefixFrom)
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

func checkTarget(d *Deps, target, nginxBin, nginxV string) (preflight.Target, error) {
	switch {
	case nginxBin != "":
		path := absIn(d.Dir, nginxBin)
		f, err := modinfo.Open(path)
		if err != nil {
			return preflight.Target{}, usagef("check: --nginx-binary: %v", err)
		}
		t, err := preflight.FromBinary(nginxBin, f)
		if err != nil {
			return preflight.Target{}, usagef("check: --nginx-binary: %v", err)
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
func installedPrefix(m *machine.Machine) (prefix, from string) {
	for _, c := range m.NginxCandidates() {
		if f, err := modinfo.Open(c); err == nil && f.Configure != "" {
			return preflight.PrefixOf(f.Configure), "the installed " + c
		}
	}
	return preflight.DefaultPrefix, "nginx's default"
}

func printReport(w io.Writer, conf string, rep preflight.Report, prefixFrom string) {
	t := rep.Target
	what := "nginx " + t.Nginx
	if t.Plus != "" {
		what = fmt.Sprintf("NGINX Plus %s (nginx %s)", t.Plus, t.Nginx)
	}
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
