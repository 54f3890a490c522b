// Command nginx-modbuild rebuilds nginx dynamic modules for every nginx
// release; see README.md.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/action"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cli"
	"github.com/nginx-modbuild/nginx-modbuild/internal/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/workflow"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	// A hangup (a dropped SSH session) and SIGQUIT stop a command as
	// SIGTERM does: install then puts every file back.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
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
		err = cli.Run(ctx, d, os.Args[1:])
	}
	stop()
	if err != nil {
		code := cli.ExitCode(err)
		if code != 0 {
			fmt.Fprintf(os.Stderr, "nginx-modbuild: %v\n", err)
		}
		os.Exit(code)
	}
}
