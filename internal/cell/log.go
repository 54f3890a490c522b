package cell

import (
	"fmt"
	"io"
	"time"

	"github.com/sethvargo/go-githubactions"
)

// Log shows progress: a log group per phase in GitHub Actions, a line per
// phase on a terminal.
type Log struct {
	W       io.Writer
	Actions bool
	Now     func() time.Time
}

// Phase starts a phase and returns the function that ends it, which
// reports and returns its duration.
func (l *Log) Phase(title string) func() time.Duration {
	now := l.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	// In Actions, a log group, written by go-githubactions (it escapes
	// the title) to the same stream as the phase's lines, so the runner
	// sees them in order.
	gh := githubactions.New(githubactions.WithWriter(l.W))
	if l.Actions {
		gh.Group(title)
	} else {
		fmt.Fprintf(l.W, "==> %s\n", title)
	}
	return func() time.Duration {
		d := now().Sub(start)
		if l.Actions {
			fmt.Fprintf(l.W, "%s: %.1fs\n", title, d.Seconds())
			gh.EndGroup()
		} else {
			fmt.Fprintf(l.W, "    %s: %.1fs\n", title, d.Seconds())
		}
		return d
	}
}

// Printf writes a line.
func (l *Log) Printf(format string, args ...any) {
	fmt.Fprintf(l.W, format+"\n", args...)
}
