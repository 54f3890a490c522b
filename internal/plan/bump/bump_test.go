package bump

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
)

const repo = "acme/mod"

// readTree reads a testdata directory as path -> content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func releases(vs ...string) []*version.Version {
	var out []*version.Version
	for _, v := range vs {
		out = append(out, version.Must(version.NewVersion(v)))
	}
	return out
}

type env struct {
	t   *testing.T
	gh  *ghfake.Server
	api *API
}

func newEnv(t *testing.T, files map[string]string) *env {
	gh := ghfake.New(t)
	gh.CreateRepo(repo, "main")
	gh.CommitFiles(repo, "main", "initial", files)
	c, err := ghclient.New(ghclient.Options{APIURL: gh.URL, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, gh: gh, api: &API{C: c, Owner: "acme", Repo: "mod"}}
}

// bump runs a bump with the config as committed on main.
func (e *env) bump(rels []*version.Version, dryRun bool) (*Result, error) {
	e.t.Helper()
	text, _ := e.gh.File(repo, "main", ".github/nginx-modbuild.yml")
	cfg, err := config.Parse(".github/nginx-modbuild.yml", e.t.TempDir(), []byte(text))
	if err != nil {
		e.t.Fatal(err)
	}
	target, line, err := Target(cfg.Nginx, cfg.Bump.Policy, rels)
	if err != nil {
		e.t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Run(context.Background(), e.api, Options{Config: cfg, ConfigPath: ".github/nginx-modbuild.yml",
		Target: target, Line: line, Compat: "### Compatibility\n\nbuilt", DryRun: dryRun, Out: &out})
	if dryRun && err == nil {
		res.Diff = out.String()
	}
	return res, err
}

// TestBumpOpensOnePullRequest is the acceptance test: the first run opens
// one pull request whose branch holds exactly the golden files (every pin
// form, a CRLF file, a file without a final newline, declared patterns,
// look-alikes left alone); a second run changes nothing; a newer release
// updates the same pull request; when main reaches the newest version the
// pull request is closed, and a repository at the newest gets none.
func TestBumpOpensOnePullRequest(t *testing.T) {
	before := readTree(t, "testdata/repo-before")
	after := readTree(t, "testdata/repo-after")
	e := newEnv(t, before)
	main := e.gh.Ref(repo, "refs/heads/main")

	res, err := e.bump(releases("1.26.3", "1.27.4", "1.28.0", "1.29.5"), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "opened" || res.To != "1.28.0" || res.Branch != "nginx-modbuild/nginx-stable" {
		t.Fatalf("result %+v", res)
	}
	for p, want := range after {
		got, ok := e.gh.File(repo, res.Branch, p)
		if !ok || got != want {
			t.Errorf("%s on the branch:\n%q\nwant\n%q", p, got, want)
		}
	}
	if e.gh.Ref(repo, "refs/heads/main") != main {
		t.Error("main moved")
	}
	pulls := e.gh.Pulls(repo)
	if len(pulls) != 1 || pulls[0].Title != "Bump nginx from 1.26.3 to 1.28.0" || pulls[0].Base != "main" ||
		strings.Join(pulls[0].Labels, ",") != "dependencies" {
		t.Fatalf("pulls %+v", pulls)
	}
	for _, want := range []string{
		"https://nginx.org/en/CHANGES-1.28",
		"- `Dockerfile` line 2 (dockerfile): `ARG NGINX_VERSION=1.26.3` → `ARG NGINX_VERSION=1.28.0`",
		"- `docker/alpine.Dockerfile` line 1 (image): `FROM nginx:1.26.3-alpine` → `FROM nginx:1.28.0-alpine`",
		"- `.github/workflows/ci.yml` line 9 (release-tag)",
		"- `Makefile` line 1 (declared)",
		"- `.github/nginx-modbuild.yml` line 4 (config)",
		"### Compatibility",
	} {
		if !strings.Contains(pulls[0].Body, want) {
			t.Errorf("body lacks %q:\n%s", want, pulls[0].Body)
		}
	}
	msg, parents, _ := e.gh.Commit(repo, pulls[0].HeadSHA)
	if msg != "Bump nginx from 1.26.3 to 1.28.0" || len(parents) != 1 || parents[0] != main {
		t.Errorf("commit %q parents %v", msg, parents)
	}

	// Again: nothing to do.
	head := pulls[0].HeadSHA
	requests := e.gh.Requests()
	res, err = e.bump(releases("1.26.3", "1.28.0", "1.29.5"), false)
	if err != nil || res.Action != "unchanged" {
		t.Fatalf("second run: %v %+v", err, res)
	}
	for _, r := range e.gh.Log()[requests:] {
		if r.Method != "GET" {
			t.Errorf("second run wrote: %s %s", r.Method, r.Path)
		}
	}
	if p := e.gh.Pulls(repo); len(p) != 1 || p[0].HeadSHA != head {
		t.Errorf("second run moved things: %+v", p)
	}

	// A newer stable release: the same pull request moves on.
	res, err = e.bump(releases("1.26.3", "1.28.0", "1.28.1", "1.29.6"), false)
	if err != nil || res.Action != "updated" {
		t.Fatalf("newer release: %v %+v", err, res)
	}
	pulls = e.gh.Pulls(repo)
	if len(pulls) != 1 || pulls[0].Title != "Bump nginx from 1.26.3 to 1.28.1" || pulls[0].State != "open" {
		t.Fatalf("pulls %+v", pulls)
	}
	if got, _ := e.gh.File(repo, res.Branch, ".env"); got != "NGINX_VERSION=1.28.1" {
		t.Errorf(".env = %q", got)
	}

	// Someone moves the pins by hand: the pull request is closed.
	by := map[string]string{}
	for p, c := range after {
		by[p] = strings.ReplaceAll(c, "1.28.0", "1.28.1")
	}
	e.gh.CommitFiles(repo, "main", "pin 1.28.1 by hand", by)
	res, err = e.bump(releases("1.28.1"), false)
	if err != nil || res.Action != "closed" {
		t.Fatalf("pinned by hand: %v %+v", err, res)
	}
	if p := e.gh.Pulls(repo); len(p) != 1 || p[0].State != "closed" {
		t.Errorf("pulls %+v", p)
	}
	res, err = e.bump(releases("1.28.1", "1.29.6"), false)
	if err != nil || res.Action != "up-to-date" || len(e.gh.Pulls(repo)) != 1 {
		t.Errorf("up to date: %v %+v", err, res)
	}
}

// TestBumpLatestPolicyAndDryRun follows the newest release of any line and
// prints the diff without touching the repository.
func TestBumpLatestPolicyAndDryRun(t *testing.T) {
	files := readTree(t, "testdata/repo-before")
	files[".github/nginx-modbuild.yml"] = strings.Replace(files[".github/nginx-modbuild.yml"], "bump:\n", "bump:\n  policy: latest\n", 1)
	e := newEnv(t, files)
	requests := e.gh.Requests()
	res, err := e.bump(releases("1.26.3", "1.28.0", "1.29.5"), true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "dry-run" || res.To != "1.29.5" || res.Branch != "nginx-modbuild/nginx-latest" {
		t.Errorf("%+v", res)
	}
	for _, want := range []string{
		"--- a/.env\n+++ b/.env\n@@ -1,1 +1,1 @@\n-NGINX_VERSION=1.26.3\n\\ No newline at end of file\n+NGINX_VERSION=1.29.5\n\\ No newline at end of file\n",
		"-FROM nginx:1.26.3-alpine\n+FROM nginx:1.29.5-alpine\n",
		"Bump nginx from 1.26.3 to 1.29.5",
		"https://nginx.org/en/CHANGES\n",
	} {
		if !strings.Contains(res.Diff, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, res.Diff)
		}
	}
	for _, r := range e.gh.Log()[requests:] {
		if r.Method != "GET" {
			t.Errorf("dry run wrote: %s %s", r.Method, r.Path)
		}
	}
}

// TestBumpDeclaredPatternWithoutMatch names the file and the pattern.
func TestBumpDeclaredPatternWithoutMatch(t *testing.T) {
	files := readTree(t, "testdata/repo-before")
	files["Makefile"] = "NGINX_VER ?= 1.24.0\n"
	e := newEnv(t, files)
	_, err := e.bump(releases("1.28.0"), false)
	if err == nil || !strings.Contains(err.Error(), `bump.files: Makefile: pattern "NGINX_VER \\?= (?P<version>[0-9.]+)" matches no 1.26.3 (it matches 1.24.0)`) {
		t.Errorf("error: %v", err)
	}
	if len(e.gh.Pulls(repo)) != 0 {
		t.Error("a pull request was opened")
	}
}

func TestTarget(t *testing.T) {
	n := config.Default().Nginx
	n.Pin = "1.26.3"
	rels := releases("1.26.3", "1.27.4", "1.28.0", "1.28.1", "1.29.5")
	for _, tc := range []struct{ policy, want, line string }{
		{config.PolicyLine, "1.28.1", "stable"},
		{config.PolicyLatest, "1.29.5", "latest"},
	} {
		got, line, err := Target(n, tc.policy, rels)
		if err != nil || got != tc.want || line != tc.line {
			t.Errorf("%s: %s %s %v, want %s %s", tc.policy, got, line, err, tc.want, tc.line)
		}
	}
	n.Pin = "1.29.5"
	if got, line, _ := Target(n, config.PolicyLine, rels); got != "1.29.5" || line != "mainline" {
		t.Errorf("mainline pin: %s %s", got, line)
	}
}
