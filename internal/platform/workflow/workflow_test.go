package workflow

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "output")
	os.WriteFile(out, nil, 0o644)
	vars := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": out, "GITHUB_RUN_ID": "42",
		"GITHUB_SERVER_URL": "https://github.com/", "GITHUB_REPOSITORY": "acme/mod"}
	var w bytes.Buffer
	r := New(func(k string) string { return vars[k] }, &w)
	r.Mask("s3cret")
	r.Notice("nginx-modbuild bump", "nothing to bump")
	r.SetOutput("has-work", "true")
	if got, want := w.String(), "::add-mask::s3cret\n::notice title=nginx-modbuild bump::nothing to bump\n"; got != want {
		t.Errorf("commands = %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "has-work<<") || !strings.Contains(string(b), "\ntrue\n") {
		t.Errorf("output file:\n%s", b)
	}
	if got := r.LogURL(); got != "https://github.com/acme/mod/actions/runs/42" {
		t.Errorf("LogURL = %q", got)
	}

	// Outside Actions: no workflow commands, no log link.
	w.Reset()
	off := New(func(k string) string { return "" }, &w)
	off.Mask("s3cret")
	off.Notice("t", "m")
	off.SetOutput("x", "y")
	if w.Len() != 0 || off.LogURL() != "" {
		t.Errorf("outside Actions: %q, %q", w.String(), off.LogURL())
	}
}
