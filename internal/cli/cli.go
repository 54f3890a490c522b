// Package cli is nginx-modbuild's command line: one subcommand per
// capability, the same names and flags the GitHub Action's inputs use.
//
// Each command is an options struct (its flags, checked) and a run
// function taking the options and the Deps the entry point built once:
// the writers, the environment, the HTTP client, the machine, the
// Actions run and the GitHub client. Helpers more than one command uses
// live in shared.go; a command's file holds only its own.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/workflow"
)

// Deps are everything a command takes from the outside world. The entry
// point builds them once (tests build their own); Run fills in what is
// left unset.
type Deps struct {
	Stdout, Stderr io.Writer
	// Getenv reads environment variables.
	Getenv func(string) string
	// Dir is the working directory: the repository root module paths are
	// relative to (GITHUB_WORKSPACE in Actions).
	Dir string
	// HTTP is the client for every request (default: 60 s timeout).
	HTTP *http.Client
	// Now is the clock.
	Now func() time.Time
	// Version is this binary's version.
	Version string
	// Summary, when set (the Action sets it), receives the command's
	// report as Markdown for the step summary: plain text, never a
	// workflow command or a secret.
	Summary io.Writer
	// Machine is the host: its distro, container, compiler, nginx
	// (default: this one).
	Machine *machine.Machine
	// GitHubCache, when set before the first GitHub call (plan and bump
	// set their --cache-dir), keeps the API's answers with their ETags:
	// an unchanged answer costs a 304.
	GitHubCache string
	// Workflow is the GitHub Actions run: outputs, masks, notices
	// (default: read from Getenv, commands to Stdout).
	Workflow *workflow.Run

	gh     *ghclient.Client
	ghErr  error
	ghOnce sync.Once
}

// complete fills what the entry point left unset, and masks the token.
func (d *Deps) complete() {
	if d.HTTP == nil {
		d.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Summary == nil {
		d.Summary = io.Discard
	}
	if d.Machine == nil {
		d.Machine = machine.Local(d.Getenv)
	}
	if d.Workflow == nil {
		d.Workflow = workflow.New(d.Getenv, d.Stdout)
	}
	d.Workflow.Mask(d.credentials().Token())
	d.Workflow.Mask(d.Getenv(SigningKeyVar))
}

// credentials are the run's GitHub token and the API it belongs to.
func (d *Deps) credentials() ghclient.Credentials { return ghclient.CredentialsFrom(d.Getenv) }

// GitHub is the API client of this run, made on first use: the run's
// token (ghclient.Credentials) for its API host.
func (d *Deps) GitHub() (*ghclient.Client, error) {
	d.ghOnce.Do(func() {
		creds := d.credentials()
		d.gh, d.ghErr = ghclient.New(ghclient.Options{
			Token: creds.For(""), APIURL: creds.APIURL(), UploadURL: d.Getenv("NGINX_MODBUILD_UPLOAD_URL"), HTTP: d.HTTP,
			Logf: d.logf, CacheDir: d.GitHubCache,
		})
		if d.ghErr != nil {
			d.ghErr = usagef("%v", d.ghErr)
		}
	})
	return d.gh, d.ghErr
}

// logf writes a progress line to stderr.
func (d *Deps) logf(format string, args ...any) { fmt.Fprintf(d.Stderr, format+"\n", args...) }

// command is one subcommand: its usage and the function that parses its
// flags and runs it.
type command struct {
	name, args, desc string
	run              func(ctx context.Context, d *Deps, args []string) error
	// flags is the command's flag set, registered and not parsed (its
	// help, and the check of its examples).
	flags func(d *Deps) *flag.FlagSet
}

// options is a command's flags: registered, then checked with the
// positional arguments once parsed.
type options interface {
	flags(fs *flag.FlagSet, d *Deps)
	check(args []string, d *Deps) error
}

// verbs is what options implement whose command has modes as verbs
// (install remove, install check): verb consumes a leading verb of argv,
// before the flags are parsed, and returns the rest.
type verbs interface {
	verb(argv []string) []string
}

// newCommand joins a command's options type and its run function.
func newCommand[O any, P interface {
	*O
	options
}](name, args, desc string, run func(context.Context, *O, *Deps) error) command {
	c := command{name: name, args: args, desc: desc}
	c.flags = func(d *Deps) *flag.FlagSet {
		fs := flagSet(d, name, args, desc)
		P(new(O)).flags(fs, d)
		return fs
	}
	c.run = func(ctx context.Context, d *Deps, argv []string) error {
		o := P(new(O))
		fs := flagSet(d, name, args, desc)
		o.flags(fs, d) // sets the defaults: a verb comes after
		if v, ok := any(o).(verbs); ok {
			argv = v.verb(argv)
		}
		if err := parse(fs, d, argv); err != nil {
			return err
		}
		if err := o.check(fs.Args(), d); err != nil {
			return err
		}
		return run(ctx, (*O)(o), d)
	}
	return c
}

func commands() []command {
	return []command{
		initCommand(), versionsCommand(), planCommand(), buildCommand(), releaseCommand(),
		bumpCommand(), installCommand(), inspectCommand(), checkCommand(),
	}
}

// IsCommand reports whether name is one of the commands (not help or
// version).
func IsCommand(name string) bool {
	for _, c := range commands() {
		if c.name == name {
			return true
		}
	}
	return false
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
func Run(ctx context.Context, d *Deps, args []string) error {
	cmds := commands()
	if len(args) == 0 {
		usage(d.Stderr, cmds)
		return usagef("no command given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			// help COMMAND: that command's help.
			for _, c := range cmds {
				if c.name == args[1] {
					d.complete()
					fs := c.flags(d)
					fs.SetOutput(d.Stdout)
					fs.Usage()
					return nil
				}
			}
			usage(d.Stderr, cmds)
			return usagef("help: no command %q", args[1])
		}
		usage(d.Stdout, cmds)
		return nil
	case "-version", "--version", "version":
		fmt.Fprintf(d.Stdout, "nginx-modbuild %s\n", d.Version)
		return nil
	}
	for _, c := range cmds {
		if c.name == args[0] {
			d.complete()
			return c.run(ctx, d, args[1:])
		}
	}
	usage(d.Stderr, cmds)
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

// ForStep is d for one Action step: its stdout and step-summary report
// captured by the caller, its workflow commands through wf (the one
// go-githubactions handle of the step, which also read its inputs).
func (d *Deps) ForStep(stdout, summary io.Writer, wf *workflow.Run) *Deps {
	return &Deps{Stdout: stdout, Stderr: d.Stderr, Getenv: d.Getenv, Dir: d.Dir, HTTP: d.HTTP, Now: d.Now,
		Version: d.Version, Summary: summary, Machine: d.Machine, Workflow: wf}
}
