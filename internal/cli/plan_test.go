package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanSaysWhetherPackagesArePublished: plan's packages output is what
// the watch workflow's pages job runs on; with packages off it is false,
// and a notice says the pages job is skipped and how to turn them on
// (issue 33 item 6: the job deployed an empty repository).
func TestPlanSaysWhetherPackagesArePublished(t *testing.T) {
	h := newHarness(t)
	h.env["GITHUB_ACTIONS"] = "true"
	for _, c := range []struct {
		extra, want string
		notice      bool
	}{{"", "false", true}, {"packages: {enabled: true}\n", "true", false}} {
		cfg := filepath.Join(t.TempDir(), "nginx-modbuild.yml")
		os.WriteFile(cfg, []byte("nginx: {lines: [stable]}\n"+c.extra), 0o644)
		out := filepath.Join(t.TempDir(), "output")
		os.WriteFile(out, nil, 0o644)
		h.env["GITHUB_OUTPUT"] = out
		r := h.run("plan", "--config", cfg)
		if r.code != 0 {
			t.Fatalf("plan: exit %d: %v\n%s", r.code, r.err, r.stderr)
		}
		if got := outputOf(t, out, "packages"); got != c.want {
			t.Errorf("%q: packages=%q, want %q", c.extra, got, c.want)
		}
		if notice := strings.Contains(r.stdout, "::notice title=packages are off::"); notice != c.notice {
			t.Errorf("%q: the notice shown: %v, want %v:\n%s", c.extra, notice, c.notice, r.stdout)
		}
	}
}
