package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/nginx-modbuild/nginx-modbuild/internal/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/markdown"
	"github.com/nginx-modbuild/nginx-modbuild/internal/modsrc"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/release"
	"github.com/nginx-modbuild/nginx-modbuild/matrix"
)

func runPlan(ctx context.Context, env *Env, args []string) error {
	c := findCommand("plan")
	fs := flagSet(env, c.name, c.args, c.desc)
	var (
		cf      common
		w       watchFlags
		rf      repoFlags
		built   string
		onlyNew bool
	)
	cf.register(fs)
	w.register(fs, env)
	rf.register(fs, env)
	fs.StringVar(&built, "built", "", "release manifest.json: cells it lists for every module are not planned again")
	fs.BoolVar(&onlyNew, "new", false, "plan only cells not built yet, according to the manifest.json of the release (--repo, --tag)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("plan: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := cf.load(env)
	if err != nil {
		return err
	}
	if len(cfg.Modules) == 0 {
		return &config.Error{File: configName(cfg), Msg: "no modules to build: add modules: [{path: ...}] to " +
			config.DefaultPath + ", or run in a module's directory (one with an nginx module config file)"}
	}
	var isBuilt matrix.BuiltFunc
	switch {
	case built != "" && onlyNew:
		return usagef("plan: give --built or --new, not both")
	case built != "":
		m, err := manifest.Read(built)
		if err != nil {
			return usagef("plan: %v", err)
		}
		ids, err := identities(ctx, env, cfg)
		if err != nil {
			return err
		}
		isBuilt = m.BuiltAs(sources(cfg), ids)
	case onlyNew:
		m, err := releaseManifest(ctx, env, rf)
		if err != nil {
			return err
		}
		ids, err := identities(ctx, env, cfg)
		if err != nil {
			return err
		}
		isBuilt = m.BuiltAs(sources(cfg), ids)
	}
	res, err := w.fetch(ctx, env)
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
	summarize(env, cfg, targets, p)
	planSummary(env.summary(), targets, p)
	out, err := json.Marshal(p.Matrix)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n", out)
	return setOutputs(env, p, out)
}

func summarize(env *Env, cfg *config.Config, targets []matrix.Target, p matrix.Plan) {
	w := env.Stderr
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
	fmt.Fprintf(w, "| nginx | line | selected by | distros |\n|---|---|---|---|\n")
	for _, t := range targets {
		why := strings.Join(t.Why, ", ")
		if len(t.Plus) > 0 {
			why += " (NGINX Plus " + strings.Join(t.Plus, ", ") + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Nginx, t.Line, markdown.Cell(why), joinOr(t.Distros, "all"))
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "\n> %s\n", markdown.Cell(n))
	}
	if len(p.Report) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| cell | | reason |\n|---|---|---|\n")
	for i, c := range p.Report {
		if i == maxSummaryCells {
			fmt.Fprintf(w, "| … %d more cells | | |\n", len(p.Report)-i)
			break
		}
		state := "skipped"
		if c.Planned {
			state = "planned"
		}
		fmt.Fprintf(w, "| nginx %s %s/%s | %s | %s |\n", c.Nginx, c.Distro, c.Arch, state, markdown.Cell(c.Reason))
	}
	fmt.Fprintln(w)
}

// setOutputs writes the step outputs when running in GitHub Actions.
func setOutputs(env *Env, p matrix.Plan, matrixJSON []byte) error {
	if env.Getenv("GITHUB_OUTPUT") == "" {
		return nil
	}
	a := githubactions.New(githubactions.WithGetenv(env.Getenv), githubactions.WithWriter(env.Stderr))
	versions, err := json.Marshal(p.Versions)
	if err != nil {
		return err
	}
	a.SetOutput("matrix", string(matrixJSON))
	a.SetOutput("has-work", fmt.Sprint(p.HasWork()))
	a.SetOutput("versions", string(versions))
	return nil
}

// releaseManifest reads what the release already holds.
func releaseManifest(ctx context.Context, env *Env, rf repoFlags) (*manifest.Manifest, error) {
	owner, name, err := rf.split()
	if err != nil {
		return nil, err
	}
	gh, err := gitHub(env)
	if err != nil {
		return nil, err
	}
	m, rel, err := release.ReadManifest(ctx, &release.API{C: gh, Owner: owner, Repo: name}, rf.tag)
	if err != nil {
		return nil, ghclient.Explain(err, "read the manifest of release "+cmp.Or(rf.tag, "(latest)")+" of "+rf.repo)
	}
	if rel == nil {
		fmt.Fprintf(env.Stderr, "release %s of %s does not exist yet: nothing is built (%d GitHub API requests)\n", cmp.Or(rf.tag, "(latest)"), rf.repo, gh.Requests())
	} else {
		fmt.Fprintf(env.Stderr, "release %s holds %d built files (%d GitHub API requests)\n", rel.Tag, len(m.Entries), gh.Requests())
	}
	return m, nil
}

// identities are the modules' current content identities: a cell built
// from other content is planned again.
func identities(ctx context.Context, env *Env, cfg *config.Config) (map[string]string, error) {
	cache := cacheDir(env)
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "nginx-modbuild-cache")
	}
	mods, err := modsrc.Resolve(ctx, cfg, cache)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range mods {
		out[m.ID] = m.Identity
	}
	return out, nil
}
