package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"
	"github.com/sethvargo/go-githubactions"

	"github.com/nginx-modbuild/nginx-modbuild/internal/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/bump"
	"github.com/nginx-modbuild/nginx-modbuild/internal/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/release"
)

func runBump(ctx context.Context, env *Env, args []string) error {
	c := findCommand("bump")
	fs := flagSet(env, c.name, c.args, c.desc)
	var (
		cf         common
		w          watchFlags
		rf         repoFlags
		dryRun     bool
		local      bool
		releaseTag string
	)
	cf.register(fs)
	w.register(fs, env)
	fs.StringVar(&rf.repo, "repo", env.Getenv("GITHUB_REPOSITORY"), "the repository, owner/name (default $GITHUB_REPOSITORY)")
	fs.StringVar(&releaseTag, "release-tag", "", "the release whose manifest gives the pull request's compatibility table (default the latest release)")
	fs.BoolVar(&dryRun, "dry-run", false, "print the diff and the pull request instead of pushing")
	fs.BoolVar(&local, "local", false, "bump the working tree instead of a pull request, with no GitHub API: with --dry-run print the diff, else edit the files in place")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := checkTag("--release-tag", releaseTag); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bump: unexpected argument %q", fs.Arg(0))
	}
	if err := refuseFork(env); err != nil {
		return err
	}
	var owner, name string
	if !local {
		var err error
		if owner, name, err = rf.split(); err != nil {
			return err
		}
	}
	cfg, err := cf.load(env)
	if err != nil {
		return err
	}
	if cfg.Nginx.Pin == "" {
		// Nothing pinned is nothing to bump: a notice, not a failure, so
		// the zero-config setup's bump job passes.
		msg := "nothing to bump: " + configName(cfg) + " pins no nginx version; to have pull requests move a pinned version, add nginx: {pin: 1.26.3} (the version your Dockerfile or packages use)"
		if env.Getenv("GITHUB_ACTIONS") == "true" {
			fmt.Fprintf(env.Stdout, "::notice title=nginx-modbuild bump::%s\n", msg)
		}
		fmt.Fprintln(env.Stderr, msg)
		return nil
	}
	configPath := ""
	if cfg.File != "" {
		if rel, err := filepath.Rel(env.Dir, cfg.File); err == nil && !strings.HasPrefix(rel, "..") {
			configPath = filepath.ToSlash(rel)
		}
	}
	res, err := w.fetch(ctx, env)
	if err != nil {
		return err
	}
	var versions []*version.Version
	for _, r := range res.Releases {
		versions = append(versions, r.Version)
	}
	target, line, err := bump.Target(cfg.Nginx, cfg.Bump.Policy, versions)
	if err != nil {
		return &config.Error{File: configName(cfg), Msg: err.Error()}
	}
	if local {
		return bumpLocal(ctx, env, cfg, configPath, target, line, dryRun)
	}
	gh, err := gitHub(env)
	if err != nil {
		return err
	}
	defer func() { fmt.Fprintf(env.Stderr, "GitHub API: %d requests\n", gh.Requests()) }()
	compat := ""
	if target != cfg.Nginx.Pin {
		var missing []string
		if compat, missing, err = compatFor(ctx, gh, owner, name, releaseTag, target, cfg); err != nil {
			return err
		}
		if cfg.Bump.Wait && len(missing) > 0 {
			msg := fmt.Sprintf("waiting to bump nginx %s to %s (bump.wait): not built yet for %s", cfg.Nginx.Pin, target, strings.Join(missing, ", "))
			if env.Getenv("GITHUB_ACTIONS") == "true" {
				fmt.Fprintf(env.Stdout, "::notice title=nginx-modbuild bump::%s\n", msg)
			}
			fmt.Fprintln(env.Stderr, msg)
			return nil
		}
	}
	out, err := bump.Run(ctx, &bump.API{C: gh, Owner: owner, Repo: name}, bump.Options{
		Config: cfg, ConfigPath: configPath, Target: target, Line: line, Compat: compat,
		DryRun: dryRun, Out: env.Stdout,
	})
	if err != nil {
		return ghclient.Explain(err, "bump nginx in "+rf.repo)
	}
	switch out.Action {
	case "up-to-date":
		fmt.Fprintf(env.Stdout, "nginx %s is the newest %s release: nothing to bump\n", out.From, line)
	case "closed":
		fmt.Fprintf(env.Stdout, "nginx %s is already pinned: closed pull request #%d (%s)\n", out.From, out.Pull.Number, out.Pull.URL)
	case "dry-run":
	default:
		fmt.Fprintf(env.Stdout, "%s pull request #%d: %s\n%s\n", out.Action, out.Pull.Number, out.Title, out.Pull.URL)
	}
	if env.Getenv("GITHUB_OUTPUT") != "" && out.Pull != nil && out.Action != "closed" {
		githubactions.New(githubactions.WithGetenv(env.Getenv), githubactions.WithWriter(env.Stderr)).SetOutput("pull-request", out.Pull.URL)
	}
	return nil
}

// bumpLocal bumps the pins of the working tree: a preview with dryRun,
// else the files edited in place. No GitHub API.
func bumpLocal(ctx context.Context, env *Env, cfg *config.Config, configPath, target, line string, dryRun bool) error {
	res, err := bump.Preview(ctx, bump.Local{Dir: env.Dir}, bump.Options{
		Config: cfg, ConfigPath: configPath, Target: target, Line: line,
		Compat: "### Compatibility\n\n(not read: --local uses no GitHub API)\n",
	})
	if err != nil {
		return fmt.Errorf("bump the working tree %s: %w", env.Dir, err)
	}
	if res.Action == "up-to-date" {
		fmt.Fprintf(env.Stdout, "nginx %s is the newest %s release: nothing to bump\n", res.From, line)
		return nil
	}
	if dryRun {
		fmt.Fprintf(env.Stdout, "%s\nWould edit %d files of the working tree; as a pull request (branch %s):\n\n  %s\n\n%s\n",
			res.Diff, len(res.Files), res.Branch, res.Title, indentLines(res.Body))
		return nil
	}
	for _, c := range sortedKeys(res.Files) {
		if err := replaceFile(filepath.Join(env.Dir, filepath.FromSlash(c)), res.Files[c]); err != nil {
			return fmt.Errorf("bump: %w", err)
		}
		fmt.Fprintf(env.Stdout, "edited %s\n", c)
	}
	fmt.Fprintf(env.Stdout, "%s: %d files edited; review with git diff\n", res.Title, len(res.Files))
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func indentLines(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// refuseFork stops a bump in a pull_request run from a fork: its token
// cannot (and must not) push to the base repository.
func refuseFork(env *Env) error {
	event := env.Getenv("GITHUB_EVENT_NAME")
	if event != "pull_request" && event != "pull_request_target" {
		return nil
	}
	data, err := os.ReadFile(env.Getenv("GITHUB_EVENT_PATH"))
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
		return usagef("bump: event payload %s: %v", env.Getenv("GITHUB_EVENT_PATH"), err)
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
