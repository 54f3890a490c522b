package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
)

var update = flag.Bool("update", false, "rewrite golden files")

const tagsFile = "../plan/upstream/testdata/nginx-nginx-tags.json"

// harness runs commands in-process against a GitHub fake holding the real
// tag list of nginx/nginx.
type harness struct {
	t   *testing.T
	gh  *ghfake.Server
	env map[string]string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	gh := ghfake.New(t)
	if err := gh.LoadTags("nginx/nginx", tagsFile); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, gh: gh, env: map[string]string{
		// Every variable the commands may read is declared; reading any
		// other fails the test (FerretDB's strict getenv).
		"NGINX_MODBUILD_CACHE": t.TempDir(),
		"XDG_CACHE_HOME":       "", "RUNNER_TOOL_CACHE": "", "HOME": "",
		"GITHUB_API_URL": "", "GITHUB_TOKEN": "", "GITHUB_OUTPUT": "", "GITHUB_ACTIONS": "",
		"GITHUB_REPOSITORY": "", "NGINX_MODBUILD_TOKEN": "", "GITHUB_EVENT_NAME": "", "GITHUB_EVENT_PATH": "",
		"NGINX_MODBUILD_UPLOAD_URL": "", "GITHUB_RUN_ID": "", "GITHUB_SERVER_URL": "", "NGINX_MODBUILD_SIGNING_KEY": "",
		// The PATH the commands' programs (cc, make, git) run with.
		"PATH": os.Getenv("PATH"),
	}}
}

// releaseRepo makes acme/mod on the fake GitHub the repository of the
// run, with a token, as a release step in Actions sees it.
func (h *harness) releaseRepo() {
	h.gh.CreateRepo("acme/mod", "main")
	h.env["GITHUB_API_URL"] = h.gh.URL
	h.env["GITHUB_TOKEN"] = "t0ken"
	h.env["GITHUB_REPOSITORY"] = "acme/mod"
	// The run's token must reach its API (and nothing else may pass).
	h.gh.RequireToken("t0ken")
}

type result struct {
	stdout, stderr string
	err            error
	code           int
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runIn("testdata/repo", args...)
}

func (h *harness) runIn(dir string, args ...string) result {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	if h.env["GITHUB_API_URL"] == h.gh.URL {
		// The fake's uploads host, like uploads.github.com, is its own.
		h.env["NGINX_MODBUILD_UPLOAD_URL"] = h.gh.Uploads.URL
	}
	env := &Deps{
		Stdout: &stdout, Stderr: &stderr, Dir: dir, Version: "test",
		HTTP: &http.Client{},
		Getenv: func(k string) string {
			v, ok := h.env[k]
			if !ok {
				h.t.Errorf("command read undeclared environment variable %s", k)
			}
			return v
		},
	}
	args = append(args, "--upstream-url", h.gh.URL)
	if args[0] != "plan" && args[0] != "versions" && args[0] != "bump" && args[0] != "init" {
		args = args[:len(args)-2]
	}
	err := Run(context.Background(), env, args)
	return result{stdout.String(), stderr.String(), err, ExitCode(err)}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestPlanGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"default", []string{"--config", "../configs/default.yml"}},
		{"no-config-file", nil},
		{"full", []string{"--config", "../configs/full.yml"}},
		{"coarse", []string{"--config", "../configs/coarse.yml"}},
		{"stable-built", []string{"--config", "../configs/stable.yml", "--built", "testdata/built.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			r := h.run(append([]string{"plan"}, tt.args...)...)
			if r.err != nil {
				t.Fatalf("plan: %v\n%s", r.err, r.stderr)
			}
			if strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("stdout is not one line of JSON:\n%s", r.stdout)
			}
			var m struct {
				Include []map[string]any `json:"include"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
				t.Fatalf("stdout is not JSON: %v", err)
			}
			if len(m.Include) > 256 {
				t.Errorf("%d jobs", len(m.Include))
			}
			var pretty bytes.Buffer
			json.Indent(&pretty, []byte(r.stdout), "", "  ")
			golden(t, "plan-"+tt.name+".json", pretty.Bytes())
			golden(t, "plan-"+tt.name+".stderr", []byte(r.stderr))
		})
	}
}

func TestPlanWritesStepOutputs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	out := filepath.Join(t.TempDir(), "github_output")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.env["GITHUB_OUTPUT"] = out
	r := h.run("plan", "--config", "../configs/stable.yml")
	if r.err != nil {
		t.Fatal(r.err)
	}
	b, _ := os.ReadFile(out)
	got := string(b)
	for _, want := range []string{
		"matrix<<", strings.TrimSpace(r.stdout),
		"has-work<<", "\ntrue\n",
		"versions<<", `["1.30.4","1.30.3"]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", want, got)
		}
	}
}

func TestPlanNothingToDo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	manifest := `{"schema": 1, "entries": [` +
		`{"source": ".", "nginx": "1.31.4", "distro": "debian-12", "arch": "amd64", "file": "a.so", "sha256": "x"},` +
		`{"source": ".", "nginx": "1.30.4", "distro": "debian-12", "arch": "amd64", "file": "b.so", "sha256": "x"}]}`
	path := filepath.Join(t.TempDir(), "manifest.json")
	os.WriteFile(path, []byte(manifest), 0o644)
	r := h.run("plan", "--built", path)
	if r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	if strings.TrimSpace(r.stdout) != `{"include":[]}` || !strings.Contains(r.stderr, "has-work=false") {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func TestVersions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("versions", "--config", "../configs/full.yml")
	if r.err != nil {
		t.Fatal(r.err)
	}
	golden(t, "versions-full.txt", []byte(r.stdout))

	r = h.run("versions", "--config", "../configs/full.yml", "--json")
	var ts []struct {
		Nginx, Line string
		Plus, Why   []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &ts); err != nil || len(ts) != 5 {
		t.Fatalf("--json: %v, %d versions:\n%s", err, len(ts), r.stdout)
	}
	if ts[0].Nginx != "1.31.4" || ts[1].Nginx != "1.30.4" || ts[2].Plus[0] != "PLS.37.0.0.1" {
		t.Errorf("--json = %+v", ts)
	}

	r = h.run("versions", "--all", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &ts); err != nil || len(ts) != 594 {
		t.Errorf("--all: %v, %d versions", err, len(ts))
	}
}

func TestVersionsNew(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("versions", "--config", "../configs/stable.yml", "--new", "--built", "testdata/built.json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	// 1.30.4 is built for amd64 only, so arm64 still needs it.
	if !strings.Contains(r.stdout, "1.30.4") || !strings.Contains(r.stdout, "1.30.3") {
		t.Errorf("--new:\n%s", r.stdout)
	}
}

func TestVersionsPlus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct{ arg, stdout string }{
		{"R33", "1.27.2\n"},
		{"r36 p3", "1.29.3\n"},
		{"PLS.37.0.4.1", "1.29.8\n"},
		{"nginx version: nginx/1.11.10 (nginx-plus-r12)", "1.11.10\n"},
	}
	for _, tt := range tests {
		r := h.run("versions", "--plus", tt.arg)
		if r.err != nil || r.stdout != tt.stdout {
			t.Errorf("versions --plus %q = %q, %v; want %q", tt.arg, r.stdout, r.err, tt.stdout)
		}
	}
	if h.gh.Requests() != 0 {
		t.Errorf("--plus asked GitHub %d times; it needs no network", h.gh.Requests())
	}
	r := h.run("versions", "--plus", "R99")
	if r.code != 2 || !strings.Contains(r.err.Error(), "unknown NGINX Plus release") {
		t.Errorf("--plus R99: exit %d, %v", r.code, r.err)
	}
}

func TestFallbackThroughMirror(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.gh.FailAll(http.StatusBadGateway)
	page, err := os.ReadFile("../plan/upstream/testdata/nginx.org-download.html")
	if err != nil {
		t.Fatal(err)
	}
	mirror := http.NewServeMux()
	mirror.HandleFunc("/download/", func(w http.ResponseWriter, r *http.Request) { w.Write(page) })
	srv := newServer(t, mirror)
	r := h.run("plan", "--mirror", srv+"/download/")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stderr, "falling back to "+srv+"/download/") || !strings.Contains(r.stdout, `"nginx":"1.31.4"`) {
		t.Errorf("stderr:\n%s\nstdout:\n%s", r.stderr, r.stdout)
	}
}

var positioned = regexp.MustCompile(`^\S+\.yml:\d+(:\d+)?: \S`)

func TestBadConfigExitsTwo(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"unknown-key":    "nginx:\n  lates: 1\n",
		"bad-version":    "nginx:\n  versions: [1.26]\n",
		"bad-constraint": "nginx:\n  constraint: 'newer'\n",
		"unknown-distro": "distros: [windows-11]\n",
		"empty-modules":  "modules: []\n",
		"bad-arch":       "arch: [s390x]\n",
		"bad-plus":       "nginx:\n  plus: [R0]\n",
		"bad-line":       "nginx:\n  lines: [lts]\n",
		"bad-pin":        "nginx:\n  pin: 1.26.3-1\n",
		"bad-module":     "modules:\n  - path: does-not-exist\n",
		"reserved-arg":   "configure: [--with-compat]\n",
		"yaml-syntax":    "nginx: [\n",
	}
	dir := t.TempDir()
	for name, src := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, name+".yml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t)
			r := h.run("plan", "--config", path)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2 (err %v)", r.code, r.err)
			}
			msg := r.err.Error()
			if strings.Contains(msg, "\n") || !positioned.MatchString(msg) {
				t.Errorf("not a one-line positioned error: %q", msg)
			}
			if h.gh.Requests() != 0 {
				t.Error("a bad config still asked upstream")
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, args := range [][]string{
		{"frobnicate"},
		{"plan", "--no-such-flag"},
		{"versions", "--new"},
		{"plan", "extra-arg"},
		{"plan", "--upstream", "gitlab"},
	} {
		r := h.run(args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, r.code, r.err)
		}
	}
	for _, args := range [][]string{{"--help"}, {"plan", "--help"}, {"--version"}} {
		r := h.run(args...)
		if r.code != 0 || r.stdout == "" {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
}

// TestBinaryExitCodes runs the real binary: exit codes and one-line
// errors are what users and workflow steps see.
func TestBinaryExitCodes(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "nginx-modbuild")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/nginx-modbuild")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	gh := ghfake.New(t)
	if err := gh.LoadTags("nginx/nginx", tagsFile); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(cfg, []byte("distros: [debian-12]\nnginx:\n  versions: [1.26]\n"), 0o644)
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"plan", "--upstream-url", gh.URL}, 0, "has-work=true"},
		{[]string{"plan", "--config", cfg}, 2, cfg + ":3:14: bad nginx version \"1.26\""},
		{[]string{"plan", "--upstream-url", "http://127.0.0.1:1", "--mirror", "http://127.0.0.1:1/"}, 1, "find nginx releases"},
		{[]string{"nope"}, 2, "unknown command"},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Dir = "testdata/repo"
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit %d and %q", tt.args, code, stderr.String(), tt.code, tt.stderr)
		}
	}
}

// TestPlanBuiltFromSeveralPlaces: --built takes several manifests and
// directories of build output (issue 23); a cell built in any of them is
// not planned again, and the same module built for two distros counts
// for both (cell manifests name files without the distro).
func TestPlanBuiltFromSeveralPlaces(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	entry := func(nginx, distro string) string {
		return `{"module": "ngx_http_hello_module", "source": ".", "nginx": "` + nginx + `", "distro": "` + distro +
			`", "arch": "amd64", "file": "ngx_http_hello_module_` + nginx + `.so", "sha256": "x"}`
	}
	dist := t.TempDir()
	os.MkdirAll(filepath.Join(dist, "cell-a"), 0o755)
	os.MkdirAll(filepath.Join(dist, "cell-b"), 0o755)
	os.WriteFile(filepath.Join(dist, "cell-a", "manifest-1.31.4-debian-12-amd64.json"), []byte(`{"schema": 1, "entries": [`+entry("1.31.4", "debian-12")+`]}`), 0o644)
	os.WriteFile(filepath.Join(dist, "cell-b", "manifest-1.31.4-debian-13-amd64.json"), []byte(`{"schema": 1, "entries": [`+entry("1.31.4", "debian-13")+`]}`), 0o644)
	release := filepath.Join(t.TempDir(), "manifest.json")
	os.WriteFile(release, []byte(`{"schema": 1, "entries": [`+
		`{"source": ".", "nginx": "1.30.4", "distro": "debian-12", "arch": "amd64", "file": "b.so", "sha256": "x"}]}`), 0o644)
	cfg := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(cfg, []byte("distros: [debian-12, debian-13]\n"), 0o644)

	r := h.run("plan", "--config", cfg, "--built", dist, "--built", release)
	if r.code != 0 {
		t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.stderr)
	}
	var m struct {
		Include []struct{ Nginx, Distro string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range m.Include {
		got = append(got, j.Nginx+" "+j.Distro)
	}
	// 1.31.4 is built for both distros; 1.30.4 only for debian-12.
	if strings.Join(got, ",") != "1.30.4 debian-13" {
		t.Errorf("planned %v\n%s", got, r.stderr)
	}
	if r := h.run("plan", "--built", t.TempDir()); r.code != 2 || !strings.Contains(r.err.Error(), "no manifest.json, index.json or cell manifest") {
		t.Errorf("an empty directory: exit %d, %v", r.code, r.err)
	}
}
