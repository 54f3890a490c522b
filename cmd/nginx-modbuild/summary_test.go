package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestRunStepWritesSummary: the CLI run as a `run:` step in Actions
// (GITHUB_STEP_SUMMARY set) writes the same step summary as the Action's
// step, and none for help; outside Actions it writes nothing.
func TestRunStepWritesSummary(t *testing.T) {
	bin := testenv.ToolBinary(t)
	nginx := testenv.Tool(t, "nginx", "nginx")
	summary := filepath.Join(t.TempDir(), "summary.md")
	run := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nginx-modbuild %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	actions := []string{"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + summary}
	out := run(actions, "inspect", nginx)
	got, err := os.ReadFile(summary)
	if err != nil {
		t.Fatalf("no step summary: %v (output: %s)", err, out)
	}
	for _, want := range []string{"### ✅ nginx-modbuild inspect", "`nginx-modbuild inspect " + nginx + "` took", "built-in modules"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("the step summary lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(out, "built-in modules") {
		t.Errorf("the output is not printed as well:\n%s", out)
	}
	os.Remove(summary)
	run(actions, "help", "inspect")
	if _, err := os.Stat(summary); err == nil {
		t.Errorf("help wrote a step summary")
	}
	run(nil, "inspect", nginx)
	if _, err := os.Stat(summary); err == nil {
		t.Errorf("outside Actions, a step summary was written")
	}
}
