// Package action runs nginx-modbuild as a GitHub Action step: action.yml
// hands the step's inputs over as INPUT_* variables, this package reads them
// through go-githubactions, turns them into the same command line the CLI
// takes, runs it, and writes the step summary (what was done, timings, the
// compatibility table of the files built or released, links). Outputs, log
// groups, annotations and the token's mask are the commands' own.
package action

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cli"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/workflow"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/release"
)

// Commands are the values of the command input.
var Commands = []string{"versions", "plan", "build", "release", "bump", "inspect", "check", "install"}

// Input is one action input and the flag it becomes.
type Input struct {
	Name string
	// Flag is the CLI flag; Bool inputs become --flag=true|false.
	Flag string
	Bool bool
	// Commands take the flag.
	Commands []string
	Desc     string
}

// Inputs are every input besides command and token (action.yml lists the
// same, a test keeps them in step).
var Inputs = []Input{
	{"config", "config", false, []string{"versions", "plan", "build", "bump"}, "config file (default .github/nginx-modbuild.yml)"},
	{"nginx", "nginx", false, []string{"build"}, "build: nginx version(s), e.g. the nginx field of a plan job"},
	{"distro", "distro", false, []string{"build", "install"}, "build: distro label (default from /etc/os-release); install: use this distro's build"},
	{"arch", "arch", false, []string{"build"}, "build: architecture label (default the runner's)"},
	{"mirror", "mirror", false, []string{"versions", "plan", "build"}, "nginx download mirror, a URL or a directory"},
	{"out", "out", false, []string{"build"}, "build: output directory (default dist)"},
	{"smoke", "smoke", true, []string{"build"}, "build: smoke-test the modules in a real nginx (default true)"},
	{"install-deps", "install-deps", true, []string{"build", "install"}, "build: install compiler and libraries with the package manager; install: first install the packages the modules need at run time (their libraries, nginx's own modules)"},
	{"without-compat", "without-compat", true, []string{"build"}, "build: leave out --with-compat"},
	{"incremental", "incremental", true, []string{"build"}, "build: keep each cell's configured tree in cache-dir; an unchanged configure is skipped and make rebuilds only what changed"},
	{"test", "test", true, []string{"build"}, "build: run each module's own test suite (test: in the config) against the nginx built with it"},
	{"test-nginx", "test-nginx", false, []string{"build"}, "build: a Test::Nginx checkout or lib directory for test (default: what perl finds)"},
	{"target-nginx", "target-nginx", false, []string{"build"}, "build: the distro's own nginx the modules must also load into: a path, none, or auto (default: for a cell of the container's distro and its packaged nginx version, that nginx, installed with install-deps)"},
	{"like", "like", false, []string{"build"}, "build: build for this nginx binary (its version, configure arguments and signature; a job's like field for an image whose nginx is the target)"},
	{"packages", "packages", true, []string{"build"}, "build: also make native packages (.deb, .rpm, .apk) of the modules"},
	{"jobs", "jobs", false, []string{"build"}, "build: parallel compile jobs"},
	{"cache-dir", "cache-dir", false, []string{"versions", "plan", "build", "bump"}, "cache directory"},
	{"upstream", "upstream", false, []string{"versions", "plan", "bump"}, "where nginx releases come from: github or nginx.org"},
	{"upstream-url", "upstream-url", false, []string{"versions", "plan", "bump"}, "override the upstream's URL"},
	{"new", "new", true, []string{"plan"}, "plan: only cells the release does not hold yet"},
	{"repo", "repo", false, []string{"plan", "release", "bump", "install"}, "repository owner/name (default this one)"},
	{"tag", "tag", false, []string{"plan", "release", "install"}, "release tag (default the latest release)"},
	{"create", "create", true, []string{"release"}, "release: create the release for tag"},
	{"dist", "dist", false, []string{"release"}, "release: directory of build output (default dist)"},
	{"parallel", "parallel", false, []string{"release"}, "release: concurrent uploads"},
	{"spread", "spread", false, []string{"release"}, "release: spread the builds over one release per nginx line or version (line, version)"},
	{"release-dir", "dir", false, []string{"release"}, "release: write the release into this directory (for a static host) instead of GitHub"},
	{"repositories", "repositories", true, []string{"release"}, "release, with release-dir: also make the signed apt repositories of the packages (repo-signing-key signs them)"},
	{"dry-run", "dry-run", true, []string{"bump", "install"}, "bump: print the diff instead of pushing; install: print the plan"},
	{"release-tag", "release-tag", false, []string{"bump"}, "bump: release whose manifest gives the compatibility table"},
	{"json", "json", true, []string{"versions", "inspect", "check"}, "print JSON"},
	{"conf", "conf", false, []string{"check", "install"}, "check: the nginx.conf to check; install: the main nginx.conf"},
	{"target", "target", false, []string{"check"}, "check: nginx version or NGINX Plus release to upgrade to"},
	{"nginx-binary", "nginx-binary", false, []string{"check", "install"}, "check: the nginx binary to upgrade to; install: the nginx to install for"},
	{"nginx-v", "nginx-v", false, []string{"check"}, "check: nginx -V output of the nginx to upgrade to"},
	{"prefix", "prefix", false, []string{"check"}, "check: nginx prefix for relative load_module paths"},
	{"from", "from", false, []string{"install"}, "install: a directory or URL with a release's files, instead of repo"},
	{"for-nginx", "for-nginx", false, []string{"install"}, "install: stage builds for this nginx version"},
	{"signer-repo", "signer-repo", false, []string{"release", "install"}, "install: the repository whose workflow must have attested the files (for a from source); release, with repositories: index only the packages it attested"},
	{"signer-workflow", "signer-workflow", false, []string{"release", "install"}, "install, release: the workflow file that must have attested them"},
	{"trusted-root", "trusted-root", false, []string{"release", "install"}, "install, release: the Sigstore trusted root file (gh attestation trusted-root; default fetched)"},
	{"no-provenance", "no-provenance", true, []string{"install"}, "install: skip verifying attestations (dangerous)"},
	{"files", "", false, []string{"inspect", "install"}, "inspect: .so files and nginx binaries; install: module names; whitespace-separated"},
}

// Args turns the inputs into the command line.
func Args(a *githubactions.Action) ([]string, error) {
	cmd := strings.TrimSpace(a.GetInput("command"))
	if !slices.Contains(Commands, cmd) {
		return nil, fmt.Errorf("input command %q: want one of %s", cmd, strings.Join(Commands, ", "))
	}
	args := []string{cmd}
	var files []string
	for _, in := range Inputs {
		v := strings.TrimSpace(a.GetInput(in.Name))
		if v == "" {
			continue
		}
		if !slices.Contains(in.Commands, cmd) {
			return nil, fmt.Errorf("input %s does not apply to command %s (it goes with %s)", in.Name, cmd, strings.Join(in.Commands, ", "))
		}
		switch {
		case in.Name == "files":
			files = strings.Fields(v)
		case in.Bool:
			if v != "true" && v != "false" {
				return nil, fmt.Errorf("input %s: want true or false, not %q", in.Name, v)
			}
			args = append(args, "--"+in.Flag+"="+v)
		default:
			// --flag=value: a value is never read as a flag (tag: --help).
			args = append(args, "--"+in.Flag+"="+v)
		}
	}
	if len(files) > 0 {
		args = append(append(args, "--"), files...)
	}
	return args, nil
}

// Run runs the step: inputs, the command, the summary. Input mistakes
// are usage errors (exit status 2).
func Run(ctx context.Context, d *cli.Deps) error {
	// One handle for the step: it reads the inputs and, in the command,
	// writes the outputs, masks and notices.
	wf := workflow.New(inputEnv(d.Getenv), d.Stdout)
	args, err := Args(wf.Action())
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	fmt.Fprintf(d.Stderr, "nginx-modbuild %s: %s\n", d.Version, shown(args))
	return Step(ctx, d, wf, args)
}

// Step runs one command line as a step of a workflow: its output (and its
// report) captured and its step summary written through wf, whether the
// step is the Action's (Run) or a `run: nginx-modbuild ...` line in
// Actions (GITHUB_STEP_SUMMARY set).
func Step(ctx context.Context, d *cli.Deps, wf *workflow.Run, args []string) error {
	var out, report bytes.Buffer
	start := time.Now()
	runErr := cli.Run(ctx, d.ForStep(io.MultiWriter(d.Stdout, &out), &report, wf), args)
	text := Summary(args, withoutCommands(out.String()), withoutCommands(report.String()), runErr, time.Since(start), d.Dir)
	wf.AddStepSummary(scrub(text, secrets(d)))
	return runErr
}

// withoutCommands drops workflow commands (::add-mask::TOKEN, ::error
// ...) from output going into the step summary: the runner acts on them
// in the log, but the summary is a plain file shown as Markdown, and a
// mask command there is the secret in clear.
func withoutCommands(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "::") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// secrets are the values never to appear in the summary.
func secrets(d *cli.Deps) []string {
	var out []string
	for _, k := range append([]string{cli.SigningKeyVar}, ghclient.TokenVars...) {
		if v := d.Getenv(k); len(v) >= 4 {
			out = append(out, v)
		}
	}
	return out
}

// scrub replaces any secret left in text (echoed in an error, say).
func scrub(text string, secrets []string) string {
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, "***")
	}
	return text
}

// inputEnv finds INPUT_DRY-RUN also as INPUT_DRY_RUN: action.yml passes
// inputs with underscores, which every shell keeps in the environment.
func inputEnv(getenv func(string) string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" || !strings.HasPrefix(k, "INPUT_") {
			return v
		}
		return getenv(strings.ReplaceAll(k, "-", "_"))
	}
}

var urlRE = regexp.MustCompile(`https?://\S+`)

// Summary is the step summary's Markdown for a finished command: its
// heading, the error, the command's own report (Markdown), the tables of
// the cell manifests it made or released, and its output.
func Summary(args []string, stdout, report string, err error, took time.Duration, dir string) string {
	var b strings.Builder
	status := "✅"
	if err != nil {
		status = "❌"
	}
	fmt.Fprintf(&b, "### %s nginx-modbuild %s\n\n", status, args[0])
	fmt.Fprintf(&b, "`nginx-modbuild %s` took %s.\n\n", shown(args), took.Round(100*time.Millisecond))
	if err != nil {
		fmt.Fprintf(&b, "**%s**\n\n", strings.ReplaceAll(err.Error(), "\n", "<br>"))
	}
	if r := strings.TrimSpace(report); r != "" {
		b.WriteString(r + "\n\n")
	}
	switch args[0] {
	case "build":
		b.WriteString(buildSummary(flagValue(args, "out", "dist"), dir))
	}
	if links := urlRE.FindAllString(stdout, -1); len(links) > 0 && args[0] != "build" && args[0] != "plan" {
		b.WriteString("Links: " + strings.Join(links, " ") + "\n\n")
	}
	if s := strings.TrimSpace(stdout); s != "" && args[0] != "plan" {
		if len(s) > 20000 {
			s = s[:20000] + "\n…"
		}
		fmt.Fprintf(&b, "<details><summary>Output</summary>\n\n```\n%s\n```\n\n</details>\n", s)
	}
	return b.String()
}

func flagValue(args []string, name, def string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return def
}

// buildSummary tabulates the cell manifests under dist: the compatibility
// table and each cell's phase timings.
func buildSummary(dist, dir string) string {
	if !filepath.IsAbs(dist) {
		dist = filepath.Join(dir, dist)
	}
	m := &manifest.Manifest{Schema: manifest.Schema}
	files, _ := manifest.CellFiles(dist)
	for _, p := range files {
		if cm, err := manifest.Read(p); err == nil {
			for i := range cm.Entries {
				cm.Entries[i].File = cm.Entries[i].Asset()
			}
			m.Merge(cm)
		}
	}
	if len(m.Entries) == 0 && len(m.Cells) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(release.Table(m) + "\n")
	if len(m.Cells) > 0 {
		b.WriteString("| cell | configure | make | smoke | failures |\n|---|---|---|---|---|\n")
		for _, c := range m.Cells {
			fmt.Fprintf(&b, "| nginx %s %s/%s | %.1fs | %.1fs | %.1fs | %d |\n", c.Nginx, c.Distro, c.Arch,
				c.Seconds["configure"], c.Seconds["make"], c.Seconds["smoke"], len(c.Failures))
		}
		b.WriteString("\n")
		if failed := release.FailureTable(m.Cells); failed != "" {
			b.WriteString("**Failed**\n\n" + failed + "\n")
		}
	}
	return b.String()
}

// shown is the command line as the log and the step summary may show it:
// a URL's credentials (a --from https://user:token@host) replaced.
func shown(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		flag, value, ok := strings.Cut(a, "=")
		if !ok || !strings.Contains(value, "://") {
			continue
		}
		if u, err := url.Parse(value); err == nil && u.User != nil {
			out[i] = flag + "=" + u.Redacted()
		}
	}
	return strings.Join(out, " ")
}
