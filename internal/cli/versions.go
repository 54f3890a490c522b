package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/plus"
	"github.com/nginx-modbuild/nginx-modbuild/matrix"
)

type versionsOptions struct {
	config      configFlag
	watch       watchFlags
	json, all   bool
	onlyNew     bool
	built, plus string
}

func versionsCommand() command {
	return newCommand[versionsOptions]("versions", "[--config F] [--json] [--all] [--new --built manifest.json] [--plus R34|PLS.37.0.4.1|\"nginx -v output\"]",
		"list the nginx releases the config selects", runVersions)
}

func (o *versionsOptions) flags(fs *flag.FlagSet, d *Deps) {
	o.config.register(fs)
	o.watch.register(fs, d)
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	fs.BoolVar(&o.all, "all", false, "list every upstream release, not only those the config selects")
	fs.BoolVar(&o.onlyNew, "new", false, "only versions with cells not yet built according to --built")
	fs.StringVar(&o.built, "built", "", "release manifest.json saying what is built already")
	fs.StringVar(&o.plus, "plus", "", "print the open-source base version of an NGINX Plus release (R34, \"R36 P3\", PLS.37.0.4.1 or the output of nginx -v) and exit")
}

func (o *versionsOptions) check(args []string, _ *Deps) error {
	if err := noArgs("versions", args); err != nil {
		return err
	}
	if o.onlyNew && o.built == "" && o.plus == "" {
		return usagef("versions: --new needs --built manifest.json")
	}
	return nil
}

func runVersions(ctx context.Context, o *versionsOptions, d *Deps) error {
	if o.plus != "" {
		return printPlus(d, o.plus, o.json)
	}
	cfg, err := o.config.load(d)
	if err != nil {
		return err
	}
	res, err := o.watch.fetch(ctx, d)
	if err != nil {
		return err
	}
	var targets []matrix.Target
	var notes []string
	if o.all {
		for _, r := range res.Releases {
			s := r.String()
			targets = append(targets, matrix.Target{Nginx: s, Line: r.Line, Plus: plus.Embedded().ForBase(s), Why: []string{"upstream"}})
		}
	} else if targets, notes, err = matrix.Select(cfg.Nginx, cfg.Distros, res.Versions(), plus.Embedded()); err != nil {
		return &config.Error{File: configName(cfg), Msg: err.Error()}
	}
	for _, n := range notes {
		fmt.Fprintf(d.Stderr, "note: %s\n", n)
	}
	if o.onlyNew {
		if targets, err = unbuilt(cfg, targets, o.built); err != nil {
			return err
		}
	}
	if o.json {
		if targets == nil {
			targets = []matrix.Target{}
		}
		return printJSON(d.Stdout, targets)
	}
	tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tLINE\tPLUS\tDISTROS\tSELECTED BY")
	for _, t := range targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Nginx, t.Line, joinOr(t.Plus, "-"), joinOr(t.Distros, "all"), strings.Join(t.Why, ", "))
	}
	return tw.Flush()
}

// unbuilt keeps the targets with cells the manifest at built lacks.
func unbuilt(cfg *config.Config, targets []matrix.Target, built string) ([]matrix.Target, error) {
	m, err := manifest.Read(built)
	if err != nil {
		return nil, usagef("versions: %v", err)
	}
	p, err := matrix.Make(cfg, targets, m.BuiltAs(sources(cfg), nil))
	if err != nil {
		return nil, &config.Error{File: configName(cfg), Msg: err.Error()}
	}
	keep := map[string]bool{}
	for _, v := range p.Versions {
		keep[v] = true
	}
	var fresh []matrix.Target
	for _, t := range targets {
		if keep[t.Nginx] {
			fresh = append(fresh, t)
		}
	}
	return fresh, nil
}

// printPlus prints the open-source base of an NGINX Plus release.
func printPlus(d *Deps, arg string, asJSON bool) error {
	tab := plus.Embedded()
	var out any
	var base, label string
	if strings.Contains(arg, "nginx/") {
		b, err := tab.ParseNginxV(arg)
		if err != nil {
			return usagef("versions --plus: %v", err)
		}
		out, base, label = b, b.Version, "this nginx"
		if b.Plus != "" {
			label = "NGINX Plus " + b.Plus
		}
	} else {
		m, err := tab.Lookup(arg)
		if err != nil {
			return usagef("versions --plus: %v", err)
		}
		out, base, label = m, m.Base, "NGINX Plus "+m.Release
		if !m.Listed {
			fmt.Fprintf(d.Stderr, "note: %s is not in the release notes this binary knows; patch releases keep their release's base\n", m.Release)
		}
	}
	if asJSON {
		return printJSON(d.Stdout, out)
	}
	fmt.Fprintf(d.Stderr, "%s is based on nginx %s: build modules with --nginx %s\n", label, base, base)
	fmt.Fprintln(d.Stdout, base)
	return nil
}
