// Package cli is nginx-modbuild's command line: one subcommand per
// capability, the same names and flags the GitHub Action's inputs use.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/config"
)

// Env is everything a command takes from the outside world, so tests can
// supply their own.
type Env struct {
	Stdout, Stderr io.Writer
	// Getenv reads environment variables.
	Getenv func(string) string
	// Dir is the working directory: the repository root module paths are
	// relative to (GITHUB_WORKSPACE in Actions).
	Dir string
	// HTTP is the client for every request; nil means a default one.
	HTTP *http.Client
	// Now is the clock.
	Now func() time.Time
	// Version is this binary's version.
	Version string
	// Summary, when set (the Action sets it), receives the command's
	// report as Markdown for the step summary: plain text, never a
	// workflow command or a secret.
	Summary io.Writer
}

// summary is where a command writes its Markdown report: Env.Summary,
// or nowhere.
func (e *Env) summary() io.Writer {
	if e.Summary != nil {
		return e.Summary
	}
	return io.Discard
}

func (e *Env) http() *http.Client {
	if e.HTTP != nil {
		return e.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// command is one subcommand.
type command struct {
	name, args, desc string
	run              func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"init", "[--force] [--pin 1.26.3] [--lines stable,mainline] [--distros debian-12,...] [--arch amd64,arm64]",
			"set up a module repository: write .github/nginx-modbuild.yml and the watch and pull-request workflows", runInit},
		{"versions", "[--config F] [--json] [--all] [--new --built manifest.json] [--plus R34|PLS.37.0.4.1|\"nginx -v output\"]",
			"list the nginx releases the config selects", runVersions},
		{"plan", "[--config F] [--upstream github|nginx.org] [--upstream-url URL] [--built manifest.json]",
			"print the build matrix for strategy.matrix", runPlan},
		{"build", "[--config F] --nginx 1.26.3[,1.28.0] [--distro debian-12] [--mirror URL|DIR] [--out dist] [--smoke=false] [--install-deps] [--jobs N] [--cache-dir D]",
			"compile the modules against nginx versions into version-named .so files", runBuild},
		{"release", "[--repo owner/name] [--tag v1.2.0 [--create]] [--dist dist] [--parallel 4] [--json]",
			"attach built files to a GitHub release, idempotently, with manifest.json and SHA256SUMS", runRelease},
		{"bump", "[--config F] [--repo owner/name] [--dry-run] [--local] [--release-tag TAG]",
			"open or update the pull request that moves the pinned nginx version to the newest release", runBump},
		{"install", "[--repo owner/name [--tag T] | --from DIR|URL] [--nginx-binary /usr/sbin/nginx] [--for-nginx V] [--distro D] [--dry-run] [--reload] [--print-load] [--check] MODULE...",
			"put the matching build of modules under the nginx of this host: verified, atomically, tested with nginx -t, rolled back on failure", runInstall},
		{"inspect", "[--json] FILE...",
			"print the modules in .so files (and nginx binaries): name, nginx version built for, signature", runInspect},
		{"check", "--conf /etc/nginx/nginx.conf (--target 1.26.3|R34|PLS.37.0.4.1 | --nginx /usr/sbin/nginx | --nginx-v \"$(nginx -V 2>&1)\") [--prefix DIR] [--json]",
			"predict whether every load_module of a configuration loads into the target nginx", runCheck},
	}
}

func findCommand(name string) command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	panic("no command " + name) // a programming error: names are constants
}

// UsageError is a mistake in how the command was called: exit status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitCode maps an error to the process exit status: 0 ok, 1 the checked
// thing failed, 2 a usage or configuration error.
func ExitCode(err error) int {
	var ue *UsageError
	var ce *config.Error
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue), errors.As(err, &ce):
		return 2
	}
	return 1
}

// Run runs the command line args (without the program name).
func Run(ctx context.Context, env *Env, args []string) error {
	cmds := commands()
	if len(args) == 0 {
		usage(env.Stderr, cmds)
		return usagef("no command given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(env.Stdout, cmds)
		return nil
	case "-version", "--version", "version":
		fmt.Fprintf(env.Stdout, "nginx-modbuild %s\n", env.Version)
		return nil
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	usage(env.Stderr, cmds)
	return usagef("unknown command %q", args[0])
}

func usage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "nginx-modbuild rebuilds nginx dynamic modules for every nginx release.")
	fmt.Fprintln(w, "\nUsage:\n  nginx-modbuild <command> [flags]\n\nCommands:")
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.desc)
	}
	fmt.Fprintln(w, "\nRun nginx-modbuild <command> --help for its flags. Exit status: 0 ok, 1 failure, 2 usage or config error.")
}

// flagSet makes a flag set that reports errors as usage errors and prints
// its help to the right writer.
func flagSet(env *Env, name, args, desc string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: nginx-modbuild %s %s\n\n%s.\n\nFlags:\n", name, args, desc)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, env *Env, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

// common holds the flags that every command reading the config shares.
type common struct {
	config string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "config file (default "+config.DefaultPath+" in the repository)")
}

func (c *common) load(env *Env) (*config.Config, error) {
	path := c.config
	if path != "" && !filepath.IsAbs(path) {
		path = filepath.Join(env.Dir, path)
	}
	return config.Load(env.Dir, path)
}

// cacheDir is where ETags and downloads are kept between runs.
func cacheDir(env *Env) string {
	if d := env.Getenv("NGINX_MODBUILD_CACHE"); d != "" {
		return d
	}
	if d := env.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "nginx-modbuild")
	}
	if d := env.Getenv("RUNNER_TOOL_CACHE"); d != "" {
		return filepath.Join(d, "nginx-modbuild")
	}
	if d := env.Getenv("HOME"); d != "" {
		return filepath.Join(d, ".cache", "nginx-modbuild")
	}
	return ""
}

func joinOr(ss []string, none string) string {
	if len(ss) == 0 {
		return none
	}
	return strings.Join(ss, ",")
}
