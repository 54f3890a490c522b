package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// writeCell writes one build cell's output as the build command leaves it.
func writeCell(t *testing.T, dist, source, module, nginx string, data []byte) {
	t.Helper()
	os.MkdirAll(dist, 0o755)
	name := manifest.FileName(module, nginx)
	os.WriteFile(filepath.Join(dist, name), data, 0o644)
	sum := sha256.Sum256(data)
	m := manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{{
		Module: module, Source: source, Nginx: nginx, Distro: "debian-12", Arch: "amd64",
		File: name, SHA256: hex.EncodeToString(sum[:]), BuiltAt: "2026-11-24T10:00:00Z",
	}}, Cells: []manifest.Cell{{Nginx: nginx, Distro: "debian-12", Arch: "amd64"}}}
	os.WriteFile(filepath.Join(dist, manifest.CellFileName(nginx, "debian-12", "amd64")), m.Encode(), 0o644)
}

// TestReleaseThenPlanNew: release uploads a cell's file to the GitHub
// fake, an identical re-run changes nothing in four requests, and
// plan --new then plans only the version the release lacks.
func TestReleaseThenPlanNew(t *testing.T) {
	h := newHarness(t)
	h.releaseRepo()
	dist := filepath.Join(t.TempDir(), "dist")
	writeCell(t, filepath.Join(dist, "cell-1"), ".", "ngx_http_hello_world_module", "1.31.4", []byte("\x7fELF hello"))

	r := h.run("release", "--tag", "v1", "--create", "--dist", dist)
	if r.code != 0 {
		t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.stderr)
	}
	if !strings.Contains(r.stdout, "release v1: 1 uploaded, 0 replaced, 0 unchanged; wrote manifest.json, SHA256SUMS, release notes") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	r = h.run("release", "--tag", "v1", "--dist", dist, "--json")
	var out struct {
		Uploaded, Unchanged, Wrote []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
	}
	if len(out.Uploaded) != 0 || len(out.Unchanged) != 1 || len(out.Wrote) != 0 || !strings.Contains(r.stderr, "GitHub API: 4 requests") {
		t.Errorf("second run: %+v\n%s", out, r.stderr)
	}

	// Run in the repository of the module: only 1.30.4 remains to build.
	r = h.run("plan", "--new", "--tag", "v1")
	if r.code != 0 {
		t.Fatalf("plan --new: exit %d: %v\n%s", r.code, r.err, r.stderr)
	}
	if !strings.Contains(r.stdout, `"nginx":"1.30.4"`) || strings.Contains(r.stdout, `"nginx":"1.31.4"`) ||
		!strings.Contains(r.stderr, "release v1 holds 1 built files") {
		t.Errorf("plan --new:\n%s\n%s", r.stdout, r.stderr)
	}
	// A release that does not exist yet means nothing is built.
	r = h.run("plan", "--new", "--tag", "v2")
	if r.code != 0 || !strings.Contains(r.stdout, `"nginx":"1.31.4"`) || !strings.Contains(r.stderr, "does not exist yet") {
		t.Errorf("plan --new for a missing release: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	if r = h.run("release", "--tag", "v9", "--dist", dist); r.code != 1 || !strings.Contains(r.err.Error(), "no release for tag v9: create it, or pass --create") {
		t.Errorf("missing release: exit %d: %v", r.code, r.err)
	}
	if r = h.run("release", "--repo", "nope", "--dist", dist); r.code != 2 {
		t.Errorf("bad --repo: exit %d: %v", r.code, r.err)
	}
	// In Actions the token is masked before anything else is printed.
	h.env["GITHUB_ACTIONS"] = "true"
	if r = h.run("release", "--tag", "v1", "--dist", dist); r.code != 0 || !strings.HasPrefix(r.stdout, "::add-mask::t0ken\n") {
		t.Errorf("Actions run: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	h.env["GITHUB_ACTIONS"] = ""
	h.env["GITHUB_TOKEN"] = "wrong"
	h.gh.RequireToken("t0ken")
	if r = h.run("release", "--tag", "v1", "--dist", dist); r.code != 1 || !strings.Contains(r.err.Error(), "GitHub rejected the token (401") {
		t.Errorf("bad token: exit %d: %v", r.code, r.err)
	}
}

// TestIdleHourCostsNoRateLimit is issue 33 item 6's hourly watch: with
// the cache the watch workflow keeps (--cache-dir, restored by
// actions/cache), plan --new downloads the release's manifest once (an
// asset never changes under its ID), and an idle hour makes only
// conditional requests, each answered 304, which GitHub does not count
// against the rate limit. (The download itself changes the release's
// JSON, its download_count, as a download by anyone does: the hour after
// one costs the release's 2 requests again.) A new release of nginx is
// seen at once.
func TestIdleHourCostsNoRateLimit(t *testing.T) {
	h := newHarness(t)
	h.releaseRepo()
	dist := filepath.Join(t.TempDir(), "dist")
	writeCell(t, filepath.Join(dist, "cell-1"), ".", "ngx_http_hello_world_module", "1.31.4", []byte("\x7fELF hello"))
	if r := h.run("release", "--tag", "modules", "--create", "--dist", dist); r.code != 0 {
		t.Fatalf("release: exit %d: %v\n%s", r.code, r.err, r.stderr)
	}
	cache := t.TempDir()
	var runs []result
	var requests []int
	for i := 0; i < 3; i++ {
		before := h.gh.Requests()
		r := h.run("plan", "--new", "--tag", "modules", "--cache-dir", cache)
		if r.code != 0 || !strings.Contains(r.stderr, "release modules holds 1 built files") {
			t.Fatalf("plan %d: exit %d\n%s", i+1, r.code, r.stderr)
		}
		runs, requests = append(runs, r), append(requests, h.gh.Requests()-before)
	}
	// 6 tag pages, the release, its assets; the first run also the
	// manifest (a redirect and the storage host: 2 more).
	if requests[0] <= 8 || requests[1] != 8 || requests[2] != 8 {
		t.Errorf("requests per run: %v, want the manifest downloaded in the first only", requests)
	}
	idle := runs[2]
	if idle.stdout != runs[0].stdout {
		t.Errorf("the idle hour planned otherwise:\n%s\nwas:\n%s", idle.stdout, runs[0].stdout)
	}
	for _, want := range []string{"(2 GitHub API requests, 2 not modified)", "(6 requests, 6 not modified)"} {
		if !strings.Contains(idle.stderr, want) {
			t.Errorf("the idle hour lacks %q: not every request was a 304:\n%s", want, idle.stderr)
		}
	}
	h.gh.AddTag("nginx/nginx", "release-1.31.5")
	if r := h.run("plan", "--new", "--tag", "modules", "--cache-dir", cache); !strings.Contains(r.stdout, `"nginx":"1.31.5"`) {
		t.Errorf("after nginx 1.31.5, the plan:\n%s\n%s", r.stdout, r.stderr)
	}
}
