// Command nginx-modbuild rebuilds nginx dynamic modules for every nginx
// release; see README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/action"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cli"
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
	env := &cli.Env{
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Getenv:  os.Getenv,
		Dir:     dir,
		Now:     time.Now,
		Version: version,
	}
	var err error
	if len(os.Args) == 2 && os.Args[1] == "action" {
		// The GitHub Action's step: inputs come as INPUT_* variables.
		err = action.Run(ctx, env)
	} else {
		err = cli.Run(ctx, env, os.Args[1:])
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
