package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/bump"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/release"
)

type bumpOptions struct {
	config     configFlag
	watch      watchFlags
	repo       repoFlags
	dryRun     bool
	local      bool
	releaseTag string
}

func bumpCommand() command {
	return newCommand[bumpOptions]("bump", "[--config F] [--repo owner/name] [--dry-run] [--local] [--release-tag TAG]",
		"open or update the pull request that moves the pinned nginx version to the newest release", runBump)
}

func (o *bumpOptions) flags(fs *flag.FlagSet, d *Deps) {
	o.config.register(fs)
	o.watch.register(fs, d)
	o.repo.registerRepo(fs, d)
	fs.StringVar(&o.releaseTag, "release-tag", "", "the release whose manifest gives the pull request's compatibility table (default the latest release)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the diff and the pull request instead of pushing")
	fs.BoolVar(&o.local, "local", false, "bump the working tree instead of a pull request, with no GitHub API: with --dry-run print the diff, else edit the files in place")
}

func (o *bumpOptions) check(args []string, d *Deps) error {
	if err := checkTag("--release-tag", o.releaseTag); err != nil {
		return err
	}
	if err := noArgs("bump", args); err != nil {
		return err
	}
	if err := refuseFork(d); err != nil {
		return err
	}
	if !o.local {
		_, _, err := o.repo.split()
		return err
	}
	return nil
}

func runBump(ctx context.Context, o *bumpOptions, d *Deps) error {
	cfg, err := o.config.load(d)
	if err != nil {
		return err
	}
	if cfg.Nginx.Pin == "" {
		// Nothing pinned is nothing to bump: a notice, not a failure, so
		// the zero-config setup's bump job passes.
		notice(d, "nothing to bump: "+configName(cfg)+" pins no nginx version; to have pull requests move a pinned version, add nginx: {pin: 1.26.3} (the version your Dockerfile or packages use)")
		return nil
	}
	res, err := o.watch.fetch(ctx, d)
	if err != nil {
		return err
	}
	target, line, err := bump.Target(cfg.Nginx, cfg.Bump.Policy, res.Versions())
	if err != nil {
		return &config.Error{File: configName(cfg), Msg: err.Error()}
	}
	bo := bump.Options{Config: cfg, ConfigPath: repoPath(d.Dir, cfg.File), Target: target, Line: line, DryRun: o.dryRun, Out: d.Stdout}
	if o.local {
		return bumpLocal(ctx, d, bo)
	}
	return o.pullRequest(ctx, d, bo)
}

// pullRequest opens, updates or closes the bump pull request.
func (o *bumpOptions) pullRequest(ctx context.Context, d *Deps, bo bump.Options) error {
	owner, name, _ := o.repo.split()
	gh, err := d.GitHub()
	if err != nil {
		return err
	}
	defer func() { d.logf("GitHub API: %d requests", gh.Requests()) }()
	cfg := bo.Config
	if bo.Target != cfg.Nginx.Pin {
		var missing []string
		if bo.Compat, missing, err = compatFor(ctx, gh, owner, name, o.releaseTag, bo.Target, cfg); err != nil {
			return err
		}
		if cfg.Bump.Wait && len(missing) > 0 {
			notice(d, fmt.Sprintf("waiting to bump nginx %s to %s (bump.wait): not built yet for %s", cfg.Nginx.Pin, bo.Target, strings.Join(missing, ", ")))
			return nil
		}
	}
	out, err := bump.Run(ctx, &bump.API{C: gh, Owner: owner, Repo: name}, bo)
	if err != nil {
		return ghclient.Explain(err, "bump nginx in "+o.repo.repo)
	}
	switch out.Action {
	case "up-to-date":
		fmt.Fprintf(d.Stdout, "nginx %s is the newest %s release: nothing to bump\n", out.From, bo.Line)
	case "closed":
		fmt.Fprintf(d.Stdout, "nginx %s is already pinned: closed pull request #%d (%s)\n", out.From, out.Pull.Number, out.Pull.URL)
	case "dry-run":
	default:
		fmt.Fprintf(d.Stdout, "%s pull request #%d: %s\n%s\n", out.Action, out.Pull.Number, out.Title, out.Pull.URL)
	}
	if out.Pull != nil && out.Action != "closed" {
		d.Workflow.SetOutput("pull-request", out.Pull.URL)
	}
	return nil
}

// notice tells the user why bump did nothing: on stderr, and as an
// annotation in Actions.
func notice(d *Deps, msg string) {
	d.Workflow.Notice("nginx-modbuild bump", msg)
	fmt.Fprintln(d.Stderr, msg)
}

// repoPath is file relative to the repository at dir, with slashes; ""
// when it is outside (or there is no file).
func repoPath(dir, file string) string {
	if file == "" {
		return ""
	}
	rel, err := filepath.Rel(dir, file)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	return filepath.ToSlash(rel)
}

// bumpLocal bumps the pins of the working tree: a preview with DryRun,
// else the files edited in place. No GitHub API.
func bumpLocal(ctx context.Context, d *Deps, bo bump.Options) error {
	bo.Compat = "### Compatibility\n\n(not read: --local uses no GitHub API)\n"
	res, err := bump.Preview(ctx, bump.Local{Dir: d.Dir}, bo)
	if err != nil {
		return fmt.Errorf("bump the working tree %s: %w", d.Dir, err)
	}
	if res.Action == "up-to-date" {
		fmt.Fprintf(d.Stdout, "nginx %s is the newest %s release: nothing to bump\n", res.From, bo.Line)
		return nil
	}
	if bo.DryRun {
		fmt.Fprintf(d.Stdout, "%s\nWould edit %d files of the working tree; as a pull request (branch %s):\n\n  %s\n\n%s\n",
			res.Diff, len(res.Files), res.Branch, res.Title, indentLines(res.Body))
		return nil
	}
	for _, c := range slices.Sorted(maps.Keys(res.Files)) {
		if err := replaceFile(filepath.Join(d.Dir, filepath.FromSlash(c)), res.Files[c]); err != nil {
			return fmt.Errorf("bump: %w", err)
		}
		fmt.Fprintf(d.Stdout, "edited %s\n", c)
	}
	fmt.Fprintf(d.Stdout, "%s: %d files edited; review with git diff\n", res.Title, len(res.Files))
	return nil
}

// replaceFile writes data over the regular file path, atomically,
// keeping its mode.
func replaceFile(path string, data []byte) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	return atomicfile.Write(path, data, fi.Mode().Perm())
}

func indentLines(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// refuseFork stops a bump in a pull_request run from a fork: its token
// cannot (and must not) push to the base repository.
func refuseFork(d *Deps) error {
	event, payload := d.Workflow.Event()
	if event != "pull_request" && event != "pull_request_target" {
		return nil
	}
	data, err := os.ReadFile(payload)
	if err != nil {
		return usagef("bump: a %s run without a readable event payload (GITHUB_EVENT_PATH): %v", event, err)
	}
	var ev struct {
		PullRequest struct {
			Head struct {
				Repo struct {
					FullName string `json:"full_name"`
					Fork     bool   `json:"fork"`
				} `json:"repo"`
			} `json:"head"`
		} `json:"pull_request"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return usagef("bump: event payload %s: %v", payload, err)
	}
	head := ev.PullRequest.Head.Repo
	if head.Fork || (head.FullName != "" && head.FullName != ev.Repository.FullName) {
		return usagef("bump: refusing to run for a pull request from the fork %s: bump pull requests belong to scheduled or push runs of %s itself",
			cmp.Or(head.FullName, "(unknown)"), ev.Repository.FullName)
	}
	return nil
}

// compatFor is the release's compatibility table limited to nginx v,
// with the cells that failed; missing lists the configured cells (module,
// distro, arch) with no build of v.
func compatFor(ctx context.Context, gh *ghclient.Client, owner, name, tag, v string, cfg *config.Config) (compat string, missing []string, err error) {
	m, rel, err := release.ReadManifest(ctx, &release.API{C: gh, Owner: owner, Repo: name}, tag)
	if err != nil {
		return "", nil, ghclient.Explain(err, "read the release manifest")
	}
	only := &manifest.Manifest{Schema: manifest.Schema}
	have := map[[3]string]bool{}
	for _, e := range m.Entries {
		if e.Nginx == v {
			only.Entries = append(only.Entries, e)
			if e.Kind == "" {
				have[[3]string{e.Source, e.Distro, e.Arch}] = true
			}
		}
	}
	for _, c := range m.Cells {
		if c.Nginx == v && len(c.Failures) > 0 {
			only.Cells = append(only.Cells, c)
		}
	}
	for _, mod := range cfg.Modules {
		for _, d := range cfg.Distros {
			for _, a := range cfg.Arch {
				if !have[[3]string{mod.ID(), d.Name, a}] {
					missing = append(missing, fmt.Sprintf("%s on %s/%s", mod.ID(), d.Name, a))
				}
			}
		}
	}
	if rel == nil || (len(only.Entries) == 0 && len(only.Cells) == 0) {
		return fmt.Sprintf("### Compatibility\n\nNo builds for nginx %s in the latest release yet: the scheduled build publishes them.\n", v), missing, nil
	}
	table := strings.Replace(release.Table(only), "### Compatibility", fmt.Sprintf("### Compatibility (release %s)", rel.Tag), 1)
	if len(missing) > 0 {
		table += fmt.Sprintf("\n**Not built for nginx %s**: %s. Merging moves the pin to a version those builds do not cover yet.\n", v, strings.Join(missing, ", "))
	}
	return table, missing, nil
}
