// Command nginx-modbuild rebuilds nginx dynamic modules for every nginx
// release; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/action"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modenv"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cli"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/workflow"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	if err := dropSecrets(os.Args, os.Environ(), os.Getenv, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "nginx-modbuild: %v\n", err)
		os.Exit(1)
	}
	// A hangup (a dropped SSH session) and SIGQUIT stop a command as
	// SIGTERM does: install then puts every file back. The signal is the
	// context's cause: the exit status says it (130 for Ctrl-C, 143 for
	// SIGTERM), and a second one is not caught.
	ctx, stop := withSignals(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	dir := os.Getenv("GITHUB_WORKSPACE")
	if dir == "" {
		dir, _ = os.Getwd()
	}
	// Everything a command takes from the outside world, made once here.
	d := &cli.Deps{
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Getenv:  os.Getenv,
		Dir:     dir,
		HTTP:    &http.Client{Timeout: 60 * time.Second},
		Now:     time.Now,
		Version: version,
		Machine: machine.Local(os.Getenv),
	}
	var err error
	if len(os.Args) == 2 && os.Args[1] == "action" {
		// The GitHub Action's step: inputs come as INPUT_* variables, read
		// by the step's own workflow handle.
		err = action.Run(ctx, d)
	} else {
		d.Workflow = workflow.New(os.Getenv, os.Stdout)
		if os.Getenv("GITHUB_STEP_SUMMARY") != "" && len(os.Args) > 1 && cli.IsCommand(os.Args[1]) {
			// A `run: nginx-modbuild ...` step in Actions: the same step
			// summary as the Action's.
			err = action.Step(ctx, d, d.Workflow, os.Args[1:])
		} else {
			err = cli.Run(ctx, d, os.Args[1:])
		}
	}
	stop()
	if err != nil {
		code := cli.ExitCode(err)
		var sig signalled
		if errors.As(context.Cause(ctx), &sig) {
			code = 128 + int(sig.Signal)
		}
		if code != 0 {
			fmt.Fprintf(os.Stderr, "nginx-modbuild: %v\n", err)
		}
		os.Exit(code)
	}
}

// dropSecrets starts a command that runs module code (build) again
// without the secrets of its environment: the module's config, Makefile
// and tests run as its descendants, and can read this process's
// /proc/PID/environ, which no Unsetenv changes. Build needs none of them:
// it calls no GitHub API, and packages and repositories are signed by
// release. It returns only when nothing was dropped, or with the error
// that kept it from starting again (then it must not run at all).
func dropSecrets(argv, environ []string, getenv func(string) string, stderr io.Writer) error {
	if !modenv.RunsModuleCode(argv[1:], getenv) {
		return nil
	}
	env, dropped := modenv.WithoutSecrets(environ)
	if len(dropped) == 0 {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("build runs module code and must not hold %s, but cannot start itself again without them: %w", strings.Join(dropped, ", "), err)
	}
	fmt.Fprintf(stderr, "nginx-modbuild: build runs module code, so it holds no secret: started again without %s\n", strings.Join(dropped, ", "))
	err = syscall.Exec(exe, argv, env)
	return fmt.Errorf("build runs module code and must not hold %s, but cannot start itself again without them: exec %s: %w", strings.Join(dropped, ", "), exe, err)
}

// signalled is the cause of a context a signal cancelled.
type signalled struct{ Signal syscall.Signal }

func (s signalled) Error() string { return "stopped by " + s.Signal.String() }

// withSignals is signal.NotifyContext with the signal as the context's
// cause.
func withSignals(parent context.Context, sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch) // a second one stops the process at once
			sig, _ := s.(syscall.Signal)
			cancel(signalled{sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}
