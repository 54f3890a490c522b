package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nginx-modbuild/nginx-modbuild/internal/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plus"
	"github.com/nginx-modbuild/nginx-modbuild/matrix"
)

func runVersions(ctx context.Context, env *Env, args []string) error {
	c := findCommand("versions")
	fs := flagSet(env, c.name, c.args, c.desc)
	var (
		cf             common
		w              watchFlags
		asJSON, all    bool
		onlyNew        bool
		built, plusArg string
	)
	cf.register(fs)
	w.register(fs, env)
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	fs.BoolVar(&all, "all", false, "list every upstream release, not only those the config selects")
	fs.BoolVar(&onlyNew, "new", false, "only versions with cells not yet built according to --built")
	fs.StringVar(&built, "built", "", "release manifest.json saying what is built already")
	fs.StringVar(&plusArg, "plus", "", "print the open-source base version of an NGINX Plus release (R34, \"R36 P3\", PLS.37.0.4.1 or the output of nginx -v) and exit")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("versions: unexpected argument %q", fs.Arg(0))
	}
	if plusArg != "" {
		return printPlus(env, plusArg, asJSON)
	}
	if onlyNew && built == "" {
		return usagef("versions: --new needs --built manifest.json")
	}
	cfg, err := cf.load(env)
	if err != nil {
		return err
	}
	res, err := w.fetch(ctx, env)
	if err != nil {
		return err
	}
	var targets []matrix.Target
	var notes []string
	if all {
		for _, r := range res.Releases {
			s := r.String()
			targets = append(targets, matrix.Target{Nginx: s, Line: r.Line, Plus: plus.Embedded().ForBase(s), Why: []string{"upstream"}})
		}
	} else if targets, notes, err = matrix.Select(cfg.Nginx, cfg.Distros, res.Versions(), plus.Embedded()); err != nil {
		return &config.Error{File: configName(cfg), Msg: err.Error()}
	}
	for _, n := range notes {
		fmt.Fprintf(env.Stderr, "note: %s\n", n)
	}
	if onlyNew {
		m, err := manifest.Read(built)
		if err != nil {
			return usagef("versions: %v", err)
		}
		p, err := matrix.Make(cfg, targets, m.BuiltAs(sources(cfg), nil))
		if err != nil {
			return &config.Error{File: configName(cfg), Msg: err.Error()}
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
		targets = fresh
	}
	if asJSON {
		if targets == nil {
			targets = []matrix.Target{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(targets)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tLINE\tPLUS\tDISTROS\tSELECTED BY")
	for _, t := range targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Nginx, t.Line, joinOr(t.Plus, "-"), joinOr(t.Distros, "all"), strings.Join(t.Why, ", "))
	}
	return tw.Flush()
}

func printPlus(env *Env, arg string, asJSON bool) error {
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
			fmt.Fprintf(env.Stderr, "note: %s is not in the release notes this binary knows; patch releases keep their release's base\n", m.Release)
		}
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(env.Stderr, "%s is based on nginx %s: build modules with --nginx %s\n", label, base, base)
	fmt.Fprintln(env.Stdout, base)
	return nil
}

func configName(cfg *config.Config) string {
	if cfg.File != "" {
		return cfg.File
	}
	return "(default config)"
}

func sources(cfg *config.Config) []string {
	var out []string
	for _, m := range cfg.Modules {
		out = append(out, m.ID())
	}
	return out
}
