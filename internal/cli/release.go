package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/nginx-modbuild/nginx-modbuild/internal/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/release"
)

// repoFlags name the repository and release a command works on.
type repoFlags struct {
	repo, tag string
}

func (r *repoFlags) register(fs *flag.FlagSet, env *Env) {
	fs.StringVar(&r.repo, "repo", env.Getenv("GITHUB_REPOSITORY"), "the repository, owner/name (default $GITHUB_REPOSITORY)")
	fs.StringVar(&r.tag, "tag", "", "the release's tag (default the latest release)")
}

func (r *repoFlags) split() (owner, name string, err error) {
	owner, name, ok := strings.Cut(r.repo, "/")
	if !ok || !repoPart.MatchString(owner) || !repoPart.MatchString(name) {
		return "", "", usagef("--repo %s: want owner/name (or run in GitHub Actions, which sets GITHUB_REPOSITORY)", quoteShort(r.repo))
	}
	if err := checkTag("--tag", r.tag); err != nil {
		return "", "", err
	}
	return owner, name, nil
}

var (
	repoPart = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	tagChars = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}$`)
)

// checkTag refuses a release tag that git would not take or that reads
// as something else: a leading '-', "..", "//", a trailing '/' or ".lock",
// or characters outside letters, digits and . _ / + -. Empty is allowed
// (the latest release).
func checkTag(flag, tag string) error {
	if tag == "" {
		return nil
	}
	if !tagChars.MatchString(tag) || strings.Contains(tag, "..") || strings.Contains(tag, "//") ||
		strings.HasSuffix(tag, "/") || strings.HasSuffix(tag, ".lock") {
		return usagef("%s %s: not a release tag (letters, digits, '.', '_', '/', '+' and '-', starting with a letter or digit, no '..')", flag, quoteShort(tag))
	}
	return nil
}

// quoteShort quotes a user's value for an error message, cut to 60 bytes.
func quoteShort(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q... (%d bytes)", s[:60], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// token is the run's GitHub token: NGINX_MODBUILD_TOKEN (the Action's
// token input), else GITHUB_TOKEN.
func token(env *Env) string {
	if t := env.Getenv("NGINX_MODBUILD_TOKEN"); t != "" {
		return t
	}
	return env.Getenv("GITHUB_TOKEN")
}

// gitHub makes the API client of this run: NGINX_MODBUILD_TOKEN (the
// Action's token input: a PAT or app token, whose pull requests trigger
// workflows) or GITHUB_TOKEN, and GITHUB_API_URL; the token is masked in
// Actions logs.
func gitHub(env *Env) (*ghclient.Client, error) {
	token := token(env)
	if token != "" && env.Getenv("GITHUB_ACTIONS") == "true" {
		githubactions.New(githubactions.WithWriter(env.Stdout), githubactions.WithGetenv(env.Getenv)).AddMask(token)
	}
	c, err := ghclient.New(ghclient.Options{
		Token: token, APIURL: env.Getenv("GITHUB_API_URL"), UploadURL: env.Getenv("NGINX_MODBUILD_UPLOAD_URL"), HTTP: env.HTTP,
		Logf: func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return c, nil
}

func runRelease(ctx context.Context, env *Env, args []string) error {
	c := findCommand("release")
	fs := flagSet(env, c.name, c.args, c.desc)
	var (
		rf       repoFlags
		dist     string
		create   bool
		asJSON   bool
		parallel int
		spread   string
	)
	rf.register(fs, env)
	fs.StringVar(&dist, "dist", "dist", "directory of build output (.so files and cell manifests, in any subdirectories)")
	fs.BoolVar(&create, "create", false, "create the release for --tag when there is none")
	fs.IntVar(&parallel, "parallel", 4, "concurrent uploads")
	fs.StringVar(&spread, "spread", "", "spread the builds over one release per nginx line (line: TAG-nginx-1.26) or version (version: TAG-nginx-1.26.3), with index.json in the release TAG; for more than 1,000 files")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("release: unexpected argument %q", fs.Arg(0))
	}
	owner, name, err := rf.split()
	if err != nil {
		return err
	}
	if create && rf.tag == "" {
		return usagef("release: --create needs --tag")
	}
	if spread != "" && spread != "line" && spread != "version" {
		return usagef("release: --spread %s: want line or version", quoteShort(spread))
	}
	if spread != "" && rf.tag == "" {
		return usagef("release: --spread needs --tag (the index release)")
	}
	if !filepath.IsAbs(dist) {
		dist = filepath.Join(env.Dir, dist)
	}
	gh, err := gitHub(env)
	if err != nil {
		return err
	}
	defer func() { fmt.Fprintf(env.Stderr, "GitHub API: %d requests\n", gh.Requests()) }()
	res, err := release.Sync(ctx, &release.API{C: gh, Owner: owner, Repo: name}, release.Options{
		Tag: rf.tag, Create: create, Dist: dist, Parallel: parallel, Spread: spread,
		Logf: func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return ghclient.Explain(err, "release "+cmp.Or(rf.tag, "(latest)")+" of "+rf.repo)
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"release": res.Release.Tag, "url": res.Release.HTMLURL, "uploaded": nonNil(res.Uploaded),
			"replaced": nonNil(res.Replaced), "unchanged": nonNil(res.Unchanged), "kept": nonNil(res.Kept),
			"wrote": nonNil(res.Wrote),
		})
	}
	releaseSummary(env.summary(), res)
	fmt.Fprintf(env.Stdout, "release %s: %d uploaded, %d replaced, %d unchanged", res.Release.Tag,
		len(res.Uploaded), len(res.Replaced), len(res.Unchanged))
	if len(res.Kept) > 0 {
		fmt.Fprintf(env.Stdout, ", %d kept from a concurrent run", len(res.Kept))
	}
	if len(res.Wrote) > 0 {
		fmt.Fprintf(env.Stdout, "; wrote %s", strings.Join(res.Wrote, ", "))
	}
	fmt.Fprintf(env.Stdout, "\n%s\n", res.Release.HTMLURL)
	for _, n := range append(append([]string{}, res.Uploaded...), res.Replaced...) {
		fmt.Fprintf(env.Stdout, "  %s\n", n)
	}
	return setReleaseOutputs(env, res)
}

// releaseSummary writes what the release step did as Markdown: the
// files uploaded, replaced, skipped (already there with the same bytes,
// or another run's) and the cells that failed to build.
func releaseSummary(w io.Writer, res *release.Result) {
	failed := release.FailureTable(res.Cells)
	nFailed := 0
	for _, c := range res.Cells {
		nFailed += len(c.Failures)
	}
	fmt.Fprintf(w, "**Release [%s](%s): %d uploaded, %d replaced, %d skipped (unchanged), %d kept from a concurrent run, %d failed.**\n\n",
		res.Release.Tag, res.Release.HTMLURL, len(res.Uploaded), len(res.Replaced), len(res.Unchanged), len(res.Kept), nFailed)
	list := func(title string, names []string) {
		if len(names) == 0 {
			return
		}
		fmt.Fprintf(w, "<details><summary>%s (%d)</summary>\n\n", title, len(names))
		for _, n := range names {
			fmt.Fprintf(w, "- `%s`\n", n)
		}
		fmt.Fprint(w, "\n</details>\n\n")
	}
	list("Uploaded", res.Uploaded)
	list("Replaced (rebuilt with other bytes)", res.Replaced)
	list("Skipped: already in the release with the same bytes", res.Unchanged)
	list("Kept: another run uploaded them first", res.Kept)
	if failed != "" {
		fmt.Fprintf(w, "**Failed: not built, nothing uploaded for them**\n\n%s\n", failed)
	}
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// setReleaseOutputs writes the assets output in GitHub Actions.
func setReleaseOutputs(env *Env, res *release.Result) error {
	if env.Getenv("GITHUB_OUTPUT") == "" {
		return nil
	}
	var names []string
	for _, e := range res.Manifest.Entries {
		names = append(names, e.File)
	}
	b, err := json.Marshal(nonNil(names))
	if err != nil {
		return err
	}
	githubactions.New(githubactions.WithGetenv(env.Getenv), githubactions.WithWriter(env.Stderr)).SetOutput("assets", string(b))
	return nil
}
