// Package workflow is the GitHub Actions run a command may be part of:
// one go-githubactions handle for outputs, masks, notices and the step
// summary, and what the run says of itself (repository, run, event).
// Outside Actions its workflow commands are not issued.
package workflow

import (
	"io"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// Run is the run this process is a step of.
type Run struct {
	a      *githubactions.Action
	getenv func(string) string
}

// New reads the run from the environment; workflow commands go to w
// (the step's stdout, where the runner reads them).
func New(getenv func(string) string, w io.Writer) *Run {
	return &Run{a: githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(w)), getenv: getenv}
}

// Action is the handle itself, for inputs.
func (r *Run) Action() *githubactions.Action { return r.a }

// On reports whether this is a GitHub Actions step (GITHUB_ACTIONS=true).
func (r *Run) On() bool { return r.getenv("GITHUB_ACTIONS") == "true" }

// Mask hides a secret in the run's log from here on.
func (r *Run) Mask(secret string) {
	if secret != "" && r.On() {
		r.a.AddMask(secret)
	}
}

// Notice shows msg as a notice annotation.
func (r *Run) Notice(title, msg string) {
	if r.On() {
		r.a.WithFieldsMap(map[string]string{"title": title}).Noticef("%s", msg)
	}
}

// Annotate shows msg as an annotation of level (error, warning, notice)
// with fields (file, line, col, title), escaped by go-githubactions (a
// message's newlines and a property's ':' and ',' too).
func (r *Run) Annotate(level string, fields map[string]string, msg string) {
	if !r.On() {
		return
	}
	a := r.a.WithFieldsMap(fields)
	switch level {
	case "error":
		a.Errorf("%s", msg)
	case "warning":
		a.Warningf("%s", msg)
	default:
		a.Noticef("%s", msg)
	}
}

// SetOutput sets a step output, when the runner gave an output file.
func (r *Run) SetOutput(name, value string) {
	if r.getenv("GITHUB_OUTPUT") != "" {
		r.a.SetOutput(name, value)
	}
}

// AddStepSummary appends Markdown to the step summary, when there is one.
func (r *Run) AddStepSummary(md string) {
	if r.getenv("GITHUB_STEP_SUMMARY") != "" {
		r.a.AddStepSummary(md)
	}
}

// Repository is the run's owner/name ("" outside Actions).
func (r *Run) Repository() string { return r.getenv("GITHUB_REPOSITORY") }

// LogURL links the run's log; "" outside Actions.
func (r *Run) LogURL() string {
	id := r.getenv("GITHUB_RUN_ID")
	if !r.On() || id == "" {
		return ""
	}
	return strings.TrimSuffix(r.getenv("GITHUB_SERVER_URL"), "/") + "/" + r.Repository() + "/actions/runs/" + id
}

// Event is the name of the event that started the run and the path of
// its payload.
func (r *Run) Event() (name, payload string) {
	return r.getenv("GITHUB_EVENT_NAME"), r.getenv("GITHUB_EVENT_PATH")
}
