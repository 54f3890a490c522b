package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modsrc"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/markdown"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/release"
	"github.com/nginx-modbuild/nginx-modbuild/matrix"
)

type planOptions struct {
	config  configFlag
	watch   watchFlags
	repo    repoFlags
	built   pathList
	onlyNew bool
}

func planCommand() command {
	return newCommand[planOptions]("plan", "[--config F] [--upstream github|nginx.org] [--upstream-url URL] [--built manifest.json]",
		"print the build matrix for strategy.matrix", runPlan)
}

func (o *planOptions) flags(fs *flag.FlagSet, d *Deps) {
	o.config.register(fs)
	o.watch.register(fs, d)
	o.repo.register(fs, d)
	fs.Var(&o.built, "built", "what is built already: a release's manifest.json, a cell manifest, or a directory of build output; repeat it for several (cells they list for every module are not planned again)")
	fs.BoolVar(&o.onlyNew, "new", false, "plan only cells not built yet, according to the manifest.json of the release (--repo, --tag)")
}

func (o *planOptions) check(args []string, _ *Deps) error {
	if err := noArgs("plan", args); err != nil {
		return err
	}
	if len(o.built) > 0 && o.onlyNew {
		return usagef("plan: give --built or --new, not both")
	}
	return nil
}

func runPlan(ctx context.Context, o *planOptions, d *Deps) error {
	cfg, err := o.config.loadModules(d)
	if err != nil {
		return err
	}
	isBuilt, err := o.builtCells(ctx, d, cfg)
	if err != nil {
		return err
	}
	res, err := o.watch.fetch(ctx, d)
	if err != nil {
		return err
	}
	targets, notes, err := matrix.Select(cfg.Nginx, cfg.Distros, res.Versions(), plus.Embedded())
	if err != nil {
		return &config.Error{File: configName(cfg), Msg: err.Error()}
	}
	p, err := matrix.Make(cfg, targets, isBuilt)
	if err != nil {
		return &config.Error{File: configName(cfg), Msg: err.Error()}
	}
	p.Notes = append(notes, p.Notes...)
	printPlan(d.Stderr, cfg, targets, p)
	planSummary(d.Summary, targets, p)
	out, err := json.Marshal(p.Matrix)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, "%s\n", out)
	versions, err := json.Marshal(p.Versions)
	if err != nil {
		return err
	}
	d.Workflow.SetOutput("matrix", string(out))
	d.Workflow.SetOutput("has-work", fmt.Sprint(p.HasWork()))
	d.Workflow.SetOutput("versions", string(versions))
	// The watch workflow's pages job publishes the packages' signed
	// repositories: with packages off there are none to publish.
	d.Workflow.SetOutput("packages", fmt.Sprint(cfg.Packages.Enabled))
	if !cfg.Packages.Enabled {
		d.Workflow.Notice("packages are off", "no native packages are built, so the watch workflow's pages job (the signed apt/yum/apk repositories) is skipped: turn them on with packages: {enabled: true} in "+configName(cfg))
	}
	return nil
}

// builtCells says which cells are built already: by the manifest at
// --built, by the release's (--new), or none.
func (o *planOptions) builtCells(ctx context.Context, d *Deps, cfg *config.Config) (matrix.BuiltFunc, error) {
	var m *manifest.Manifest
	var err error
	switch {
	case len(o.built) > 0:
		if m, err = manifest.ReadBuilt(o.built...); err != nil {
			return nil, usagef("plan: --built: %v", err)
		}
	case o.onlyNew:
		if m, err = releaseManifest(ctx, d, o.repo, o.watch.cacheDir); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	ids, err := identities(ctx, d, cfg)
	if err != nil {
		return nil, err
	}
	return m.BuiltAs(sources(cfg), ids), nil
}

func printPlan(w io.Writer, cfg *config.Config, targets []matrix.Target, p matrix.Plan) {
	fmt.Fprintf(w, "plan: %d nginx versions x %d distros x %d arches, %d modules each: %d builds to do, %d already built, in %d jobs\n",
		len(targets), len(cfg.Distros), len(cfg.Arch), len(cfg.Modules), p.Cells, p.Built, len(p.Matrix.Include))
	for _, t := range targets {
		fmt.Fprintf(w, "  nginx %-8s %-8s %s", t.Nginx, t.Line, strings.Join(t.Why, ", "))
		if len(t.Plus) > 0 {
			fmt.Fprintf(w, " (NGINX Plus %s)", strings.Join(t.Plus, ", "))
		}
		if len(t.Distros) > 0 {
			fmt.Fprintf(w, " [%s only]", strings.Join(t.Distros, ", "))
		}
		fmt.Fprintln(w)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "has-work=%t\n", p.HasWork())
}

// maxSummaryCells bounds the cell table of the plan summary (GitHub
// keeps at most 1 MiB of summary per step).
const maxSummaryCells = 500

// planSummary writes the plan as Markdown: the versions and where each
// comes from, then every cell planned or skipped, with the reason.
func planSummary(w io.Writer, targets []matrix.Target, p matrix.Plan) {
	planned := 0
	for _, c := range p.Report {
		if c.Planned {
			planned++
		}
	}
	fmt.Fprintf(w, "**%d cells planned, %d skipped, in %d jobs.**\n\n", planned, len(p.Report)-planned, len(p.Matrix.Include))
	var rows [][]string
	for _, t := range targets {
		why := strings.Join(t.Why, ", ")
		if len(t.Plus) > 0 {
			why += " (NGINX Plus " + strings.Join(t.Plus, ", ") + ")"
		}
		rows = append(rows, []string{t.Nginx, string(t.Line), why, joinOr(t.Distros, "all")})
	}
	fmt.Fprint(w, markdown.Table([]string{"nginx", "line", "selected by", "distros"}, rows))
	for _, n := range p.Notes {
		fmt.Fprintf(w, "\n> %s\n", markdown.Cell(n))
	}
	if len(p.Report) == 0 {
		return
	}
	rows = nil
	for i, c := range p.Report {
		if i == maxSummaryCells {
			rows = append(rows, []string{fmt.Sprintf("… %d more cells", len(p.Report)-i), "", ""})
			break
		}
		state := "skipped"
		if c.Planned {
			state = "planned"
		}
		rows = append(rows, []string{fmt.Sprintf("nginx %s %s/%s", c.Nginx, c.Distro, c.Arch), state, c.Reason})
	}
	fmt.Fprintf(w, "\n%s\n", markdown.Table([]string{"cell", "", "reason"}, rows))
}

// releaseManifest reads what the release already holds.
func releaseManifest(ctx context.Context, d *Deps, rf repoFlags, cache string) (*manifest.Manifest, error) {
	owner, name, err := rf.split()
	if err != nil {
		return nil, err
	}
	if cache != "" {
		// An idle hour's watch: the release unchanged answers 304, and
		// its manifest (an asset, immutable by ID) is read from disk.
		d.GitHubCache = cache
	}
	gh, err := d.GitHub()
	if err != nil {
		return nil, err
	}
	m, rel, err := release.ReadManifest(ctx, &release.API{C: gh, Owner: owner, Repo: name, Cache: cache}, rf.tag)
	if err != nil {
		return nil, ghclient.Explain(err, "read the manifest of release "+cmp.Or(rf.tag, "(latest)")+" of "+rf.repo)
	}
	if rel == nil {
		d.logf("release %s of %s does not exist yet: nothing is built (%d GitHub API requests, %d not modified)", cmp.Or(rf.tag, "(latest)"), rf.repo, gh.Requests(), gh.NotModified())
	} else {
		d.logf("release %s holds %d built files (%d GitHub API requests, %d not modified)", rel.Tag, len(m.Entries), gh.Requests(), gh.NotModified())
	}
	return m, nil
}

// identities are the modules' current content identities: a cell built
// from other content is planned again.
func identities(ctx context.Context, d *Deps, cfg *config.Config) (map[string]string, error) {
	mods, err := modsrc.Resolve(ctx, cfg, cacheOrTemp(cacheDir(d)))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range mods {
		out[m.ID] = m.Identity
	}
	return out, nil
}
