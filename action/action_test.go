package action

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sethvargo/go-githubactions"
	"gopkg.in/yaml.v3"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cli"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func inputs(m map[string]string) *githubactions.Action {
	return githubactions.New(githubactions.WithGetenv(inputEnv(func(k string) string { return m[k] })))
}

func TestArgs(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
		err  string
	}{
		"build": {env: map[string]string{"INPUT_COMMAND": "build", "INPUT_NGINX": "1.26.3", "INPUT_DISTRO": "debian-12",
			"INPUT_SMOKE": "false", "INPUT_INSTALL_DEPS": "true", "INPUT_MIRROR": "/m"},
			want: "build --nginx=1.26.3 --distro=debian-12 --mirror=/m --smoke=false --install-deps=true"},
		"release": {env: map[string]string{"INPUT_COMMAND": "release", "INPUT_TAG": "v1", "INPUT_CREATE": "true", "INPUT_DIST": "out"},
			want: "release --tag=v1 --create=true --dist=out"},
		// A value is never read as a flag.
		"value like a flag": {env: map[string]string{"INPUT_COMMAND": "release", "INPUT_TAG": "--help"}, want: "release --tag=--help"},
		"inspect files": {env: map[string]string{"INPUT_COMMAND": "inspect", "INPUT_FILES": "a.so\n  b.so c.so", "INPUT_JSON": "true"},
			want: "inspect --json=true -- a.so b.so c.so"},
		"check binary": {env: map[string]string{"INPUT_COMMAND": "check", "INPUT_CONF": "/etc/nginx/nginx.conf", "INPUT_NGINX-BINARY": "/usr/sbin/nginx"},
			want: "check --conf=/etc/nginx/nginx.conf --nginx-binary=/usr/sbin/nginx"},
		"bad command":    {env: map[string]string{"INPUT_COMMAND": "deploy"}, err: `input command "deploy": want one of versions, plan`},
		"wrong command":  {env: map[string]string{"INPUT_COMMAND": "plan", "INPUT_NGINX": "1.26.3"}, err: "input nginx does not apply to command plan (it goes with build)"},
		"bad bool":       {env: map[string]string{"INPUT_COMMAND": "build", "INPUT_SMOKE": "yes"}, err: `input smoke: want true or false, not "yes"`},
		"empty are left": {env: map[string]string{"INPUT_COMMAND": "plan", "INPUT_CONFIG": "  "}, want: "plan"},
	} {
		t.Run(name, func(t *testing.T) {
			args, err := Args(inputs(tc.env))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || strings.Join(args, " ") != tc.want {
				t.Errorf("args %q, %v; want %q", strings.Join(args, " "), err, tc.want)
			}
		})
	}
}

// TestActionYAMLInSync: every input the package reads is declared in
// action.yml and handed to the step; the outputs are wired.
func TestActionYAMLInSync(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs  map[string]any
		Outputs map[string]struct{ Value string }
		Runs    struct {
			Using string
			Steps []struct {
				ID  string
				Run string
				Env map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" || len(a.Runs.Steps) != 2 {
		t.Fatalf("runs: %+v", a.Runs)
	}
	env := a.Runs.Steps[1].Env
	for _, in := range append(Inputs, Input{Name: "command"}) {
		if _, ok := a.Inputs[in.Name]; !ok {
			t.Errorf("action.yml lacks input %s", in.Name)
		}
		key := "INPUT_" + strings.ToUpper(strings.ReplaceAll(in.Name, "-", "_"))
		if env[key] != "${{ inputs."+in.Name+" }}" {
			t.Errorf("the run step passes %s as %q", key, env[key])
		}
	}
	if len(a.Inputs) != len(Inputs)+4 { // + command, token, api-url, repo-signing-key
		t.Errorf("action.yml has %d inputs, the package knows %d", len(a.Inputs), len(Inputs)+3)
	}
	for _, o := range []string{"matrix", "has-work", "versions", "packages", "assets", "subjects", "pull-request"} {
		if a.Outputs[o].Value != "${{ steps.run.outputs."+o+" }}" {
			t.Errorf("output %s = %q", o, a.Outputs[o].Value)
		}
	}
}

// TestBootstrapDownloadsAndVerifies: with a release tag the binary comes
// from the release the action's own action/binaries.sha256 names and must
// match the SHA-256 listed there; a substituted asset (even with a
// matching SHA256SUMS beside it) is refused, a cached copy is hashed again
// before use, and a missing asset is told from a failed download.
func TestBootstrapDownloadsAndVerifies(t *testing.T) {
	sh := testenv.Tool(t, "sh", "dash")
	bin := []byte("#!/bin/sh\necho nginx-modbuild v1.2.3\n")
	sum := sha256.Sum256(bin)
	asset := "nginx-modbuild_linux_" + runtime.GOARCH
	actionPath := t.TempDir()
	os.MkdirAll(filepath.Join(actionPath, "action"), 0o755)
	os.WriteFile(filepath.Join(actionPath, "action", "binaries.sha256"),
		[]byte("# test\nversion v1.2.3\n"+hex.EncodeToString(sum[:])+"  "+asset+"\n"), 0o644)
	var mu sync.Mutex
	served := bin
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/acme/nmb/releases/download/v1.2.3/" + asset:
			w.Write(served)
		case "/acme/nmb/releases/download/v1.2.3/SHA256SUMS":
			s := sha256.Sum256(served) // an attacker replaces both
			w.Write([]byte(hex.EncodeToString(s[:]) + "  " + asset + "\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	run := func(ref, server string) (string, string, error) {
		ghenv := filepath.Join(t.TempDir(), "env")
		cmd := exec.Command(sh, filepath.Join(testenv.RepoRoot(), "action", "bootstrap.sh"))
		cmd.Env = append(os.Environ(), "NMB_REF="+ref, "NMB_REPOSITORY=acme/nmb", "GITHUB_SERVER_URL="+server,
			"RUNNER_TOOL_CACHE="+cache, "GITHUB_ENV="+ghenv, "GITHUB_ACTION_PATH="+actionPath, "PATH=/usr/bin:/bin")
		out, err := cmd.CombinedOutput()
		env, _ := os.ReadFile(ghenv)
		return string(out), string(env), err
	}
	// @v1 (a moving major tag) and @v1.2.3 both get v1.2.3's binary.
	out, env, err := run("v1", srv.URL)
	if err != nil || !strings.Contains(out, "downloaded "+asset) || !strings.Contains(out, "nginx-modbuild v1.2.3") ||
		!strings.HasPrefix(env, "NGINX_MODBUILD_BIN=") {
		t.Fatalf("%v\n%s\nGITHUB_ENV: %s", err, out, env)
	}
	if out, _, err := run("v1.2.3", srv.URL); err != nil || !strings.Contains(out, "cached "+asset+" matches") {
		t.Errorf("cached: %v\n%s", err, out)
	}
	// A tampered cache is not used: the binary is fetched and checked again.
	cached := strings.TrimPrefix(strings.TrimSpace(env), "NGINX_MODBUILD_BIN=")
	os.WriteFile(cached, []byte("#!/bin/sh\necho evil\n"), 0o755)
	if out, _, err := run("v1.2.3", srv.URL); err != nil || !strings.Contains(out, "downloaded "+asset) || strings.Contains(out, "evil") {
		t.Errorf("tampered cache: %v\n%s", err, out)
	}
	// The release's asset (and SHA256SUMS) replaced: refused.
	os.RemoveAll(cache)
	mu.Lock()
	served = []byte("#!/bin/sh\necho evil\n")
	mu.Unlock()
	if out, _, err := run("v1.2.3", srv.URL); err == nil || !strings.Contains(out, "refusing it") || strings.Contains(out, "echo evil") {
		t.Errorf("substituted binary accepted: %v\n%s", err, out)
	}
	// A server that is not there is a failed download, not a missing asset.
	if out, _, _ := run("v1.2.3", "http://127.0.0.1:1"); !strings.Contains(out, "downloading http://127.0.0.1:1/acme/nmb/releases/download/v1.2.3/"+asset+" failed") {
		t.Errorf("failed download:\n%s", out)
	}
	mu.Lock()
	served = nil
	mu.Unlock()
}

// TestRunWritesSummary runs a step (inspect of Debian's nginx) the way
// action.yml does and checks the step summary.
// TestBootstrapSameCacheSamePID: job containers sharing the tool cache
// (act mounts one into every job container; a self-hosted runner keeps
// one) all run the bootstrap as the same PID, so a temporary name made
// from $$ is another job's too. Run in a PID namespace of its own (the
// script is PID 1, as in a container), with that name already taken, the
// build from source must still give a working binary.
func TestBootstrapSameCacheSamePID(t *testing.T) {
	sh := testenv.Tool(t, "sh", "dash")
	unshare := testenv.Tool(t, "unshare", "util-linux")
	goBin := testenv.Tool(t, "go", "golang")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (for a PID namespace)", "run the tests as root")
	}
	cache := t.TempDir()
	dir := filepath.Join(cache, "nginx-modbuild", "src-local", runtime.GOARCH)
	// Another job, PID 1 in its own container, is building there now.
	if err := os.MkdirAll(filepath.Join(dir, "nginx-modbuild.1"), 0o755); err != nil {
		t.Fatal(err)
	}
	ghenv := filepath.Join(t.TempDir(), "env")
	cmd := exec.Command(unshare, "--pid", "--fork", sh, filepath.Join(testenv.RepoRoot(), "action", "bootstrap.sh"))
	cmd.Env = append(os.Environ(), "NMB_REF=", "RUNNER_TOOL_CACHE="+cache, "GITHUB_ENV="+ghenv,
		"GITHUB_ACTION_PATH="+testenv.RepoRoot(), "PATH="+filepath.Dir(goBin)+":/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	env, _ := os.ReadFile(ghenv)
	bin := strings.TrimPrefix(strings.TrimSpace(string(env)), "NGINX_MODBUILD_BIN=")
	if err != nil || bin == "" {
		t.Fatalf("bootstrap in a PID namespace with the same temporary name taken: %v\n%s", err, out)
	}
	if st, err := os.Stat(bin); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		t.Errorf("%s is not an executable file: %v %v", bin, st, err)
	}
}

func TestRunWritesSummary(t *testing.T) {
	nginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	summary := filepath.Join(t.TempDir(), "summary.md")
	os.WriteFile(summary, nil, 0o644)
	vars := map[string]string{"INPUT_COMMAND": "inspect", "INPUT_FILES": nginx, "GITHUB_STEP_SUMMARY": summary}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), &cli.Deps{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] },
		Dir: t.TempDir(), Version: "test"})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got, _ := os.ReadFile(summary)
	for _, want := range []string{"### ✅ nginx-modbuild inspect", "`nginx-modbuild inspect -- " + nginx + "` took", "built-in modules"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	vars["INPUT_COMMAND"] = "nope"
	if err := Run(context.Background(), &cli.Deps{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }}); cli.ExitCode(err) != 2 {
		t.Errorf("bad input: %v (exit %d)", err, cli.ExitCode(err))
	}
}

// TestReadmeListsEveryInput keeps docs/action.md's input table complete.
func TestReadmeListsEveryInput(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "action.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range append(Inputs, Input{Name: "command"}, Input{Name: "token"}, Input{Name: "api-url"}, Input{Name: "repo-signing-key"}) {
		if !strings.Contains(string(readme), "| `"+in.Name+"` |") {
			t.Errorf("docs/action.md's input table lacks %s", in.Name)
		}
	}
	for _, o := range []string{"matrix", "has-work", "versions", "packages", "assets", "subjects", "pull-request"} {
		if !strings.Contains(string(readme), "| `"+o+"` |") {
			t.Errorf("docs/action.md's output table lacks %s", o)
		}
	}
}

// TestExampleWorkflowsUseRealInputs: every input the example workflows
// (and so init) give the action is one action.yml has, for that command.
func TestExampleWorkflowsUseRealInputs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "examples", "workflows", "*.yml"))
	if len(files) != 2 {
		t.Fatalf("example workflows: %v", files)
	}
	commands := map[string][]string{"command": Commands, "token": Commands, "api-url": Commands, "repo-signing-key": {"release"}}
	for _, in := range Inputs {
		commands[in.Name] = in.Commands
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Uses string            `yaml:"uses"`
					With map[string]string `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for job, j := range wf.Jobs {
			for _, st := range j.Steps {
				if !strings.HasPrefix(st.Uses, "nginx-modbuild/nginx-modbuild@") {
					continue
				}
				cmd := st.With["command"]
				for k := range st.With {
					if cs, ok := commands[k]; !ok || !slices.Contains(cs, cmd) {
						t.Errorf("%s job %s: input %s is not an input of command %s", filepath.Base(f), job, k, cmd)
					}
				}
			}
		}
	}
}

// TestShownHidesCredentials is issue 21 item 8: the command line the log
// and the step summary show never holds a URL's password.
func TestShownHidesCredentials(t *testing.T) {
	got := shown([]string{"install", "--from=https://user:s3cret@example.com/rel/", "--tag=modules", "--", "echo"})
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "--from=https://user:xxxxx@example.com/rel/") {
		t.Errorf("shown = %q", got)
	}
}

// TestWatchWorkflowPublishesPages: the example watch workflow deploys
// the package repositories with upload-pages-artifact and deploy-pages,
// after the release, with pages: write and id-token: write on that job
// only (least privilege), from the release's own files.
func TestWatchWorkflowPublishesPages(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(), "examples", "workflows", "watch.yml")
	wf := readWorkflow(t, path)
	for k := range wf.Permissions {
		if k != "contents" || wf.Permissions[k] != "read" {
			t.Errorf("workflow-level permission %s: %s (only contents: read belongs there)", k, wf.Permissions[k])
		}
	}
	pages, ok := wf.Jobs["pages"]
	if !ok {
		t.Fatal("no pages job")
	}
	if !strings.Contains(fmt.Sprint(pages.Needs), "release") || !strings.Contains(pages.If, "needs.release.result == 'success'") {
		t.Errorf("pages runs without a successful release: needs %v, if %q", pages.Needs, pages.If)
	}
	// It indexes what this workflow attested: after the attest job.
	if !strings.Contains(fmt.Sprint(pages.Needs), "attest") || !strings.Contains(pages.If, "needs.attest.result == 'success'") {
		t.Errorf("pages runs without a successful attest job: needs %v, if %q", pages.Needs, pages.If)
	}
	want := map[string]string{"attestations": "read", "contents": "read", "pages": "write", "id-token": "write"}
	if fmt.Sprint(pages.Permissions) != fmt.Sprint(want) {
		t.Errorf("pages permissions %v, want %v", pages.Permissions, want)
	}
	for name, j := range wf.Jobs {
		if name != "pages" && j.Permissions["pages"] != "" || name != "pages" && name != "attest" && j.Permissions["id-token"] != "" {
			t.Errorf("job %s has pages or id-token permissions", name)
		}
	}
	var order []string
	for _, st := range pages.Steps {
		switch {
		case strings.HasPrefix(st.Uses, "nginx-modbuild/nginx-modbuild@"):
			if st.With["command"] != "release" || st.With["release-dir"] != "site" || st.With["repositories"] != "true" ||
				!strings.Contains(st.With["repo-signing-key"], "secrets.") || st.With["signer-repo"] != "${{ github.repository }}" ||
				st.With["signer-workflow"] != ".github/workflows/nginx-modbuild.yml" {
				t.Errorf("the repositories step: %v", st.With)
			}
			order = append(order, "repositories")
		case strings.HasPrefix(st.Uses, "actions/upload-pages-artifact@"):
			if st.With["path"] != "site" {
				t.Errorf("upload-pages-artifact path %q", st.With["path"])
			}
			order = append(order, "upload")
		case strings.HasPrefix(st.Uses, "actions/deploy-pages@"):
			order = append(order, "deploy")
		case strings.Contains(st.Run, "gh release download"):
			order = append(order, "download")
		}
	}
	if strings.Join(order, ",") != "download,repositories,upload,deploy" {
		t.Errorf("pages steps in order %v", order)
	}
	if !strings.Contains(string(mustRead(t, path)), "apt-get install -y -q createrepo-c") {
		t.Error("the pages job does not install createrepo-c, which indexes the .rpm files")
	}
}

// TestBuildJobsHoldNoSecret is issue 30's first item for the workflows
// (the examples, which init writes): a job that builds runs module code,
// so no step of it is given a secret or the token, and it has no
// id-token: write (the OIDC token Sigstore would certify as this
// workflow); the signing key goes to the release step.
func TestBuildJobsHoldNoSecret(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "examples", "workflows", "*.yml"))
	builds := 0
	for _, f := range files {
		var wf struct {
			Jobs map[string]struct {
				Env         map[string]string `yaml:"env"`
				Permissions map[string]string `yaml:"permissions"`
				Steps       []struct {
					Uses string            `yaml:"uses"`
					With map[string]string `yaml:"with"`
					Env  map[string]string `yaml:"env"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(mustRead(t, f), &wf); err != nil {
			t.Fatal(err)
		}
		for name, j := range wf.Jobs {
			building := false
			for _, st := range j.Steps {
				building = building || strings.HasPrefix(st.Uses, "nginx-modbuild/nginx-modbuild@") && st.With["command"] == "build"
			}
			if !building {
				continue
			}
			builds++
			where := filepath.Base(f) + " job " + name
			if j.Permissions["id-token"] != "" {
				t.Errorf("%s: id-token: %s", where, j.Permissions["id-token"])
			}
			for k, v := range j.Env {
				if strings.Contains(v, "secrets.") || strings.Contains(v, "github.token") {
					t.Errorf("%s: env %s: %s", where, k, v)
				}
			}
			for _, st := range j.Steps {
				for k, v := range mergeMaps(st.With, st.Env) {
					if strings.Contains(v, "secrets.") || strings.Contains(v, "github.token") || k == "token" || k == "repo-signing-key" {
						t.Errorf("%s: step %s is given %s: %s", where, st.Uses, k, v)
					}
				}
			}
		}
	}
	if builds < 2 {
		t.Errorf("%d build jobs found in %v: want the watch's and the pull-request check's", builds, files)
	}
	wf := readWorkflow(t, filepath.Join(testenv.RepoRoot(), "examples", "workflows", "watch.yml"))
	var signed bool
	for _, st := range wf.Jobs["release"].Steps {
		signed = signed || st.With["command"] == "release" && strings.Contains(st.With["repo-signing-key"], "secrets.")
	}
	if !signed {
		t.Error("watch.yml's release step is not given the signing key (it signs the packages now)")
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

// TestWatchWorkflowAttests: the watch workflow's attest job runs after
// the release with exactly the permissions actions/attest's README asks
// for (id-token: write among them: without it the step cannot get a
// Sigstore certificate), gives actions/attest only inputs its own
// action.yml (a copy in testdata) has, and attests the file the job
// downloaded. The end-to-end flow act runs (testdata/e2e) has the same
// attest step, and the same permissions but artifact-metadata, which
// act's schema does not know.
func TestWatchWorkflowAttests(t *testing.T) {
	watchPath := filepath.Join(testenv.RepoRoot(), "examples", "workflows", "watch.yml")
	wf := readWorkflow(t, watchPath)
	var attestIn struct {
		Inputs map[string]any `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join("testdata", "actions-attest", "action.yml")), &attestIn); err != nil || len(attestIn.Inputs) == 0 {
		t.Fatalf("actions/attest's action.yml: %v", err)
	}
	all := []string{"id-token", "attestations", "artifact-metadata"}
	if problems := attestProblems(wf, attestIn.Inputs, all); len(problems) > 0 {
		t.Errorf("watch.yml: %v", problems)
	}
	e2e := readWorkflow(t, filepath.Join("testdata", "e2e", ".github", "workflows", "e2e.yml"))
	if problems := attestProblems(e2e, attestIn.Inputs, all[:2]); len(problems) > 0 {
		t.Errorf("e2e.yml: %v", problems)
	}
	watchStep, e2eStep := attestStep(wf), attestStep(e2e)
	if fmt.Sprint(watchStep.With) != fmt.Sprint(e2eStep.With) || watchStep.Uses != e2eStep.Uses {
		t.Errorf("e2e.yml attests with %s %v, watch.yml with %s %v", e2eStep.Uses, e2eStep.With, watchStep.Uses, watchStep.With)
	}
	wantPerms := maps.Clone(wf.Jobs["attest"].Permissions)
	delete(wantPerms, "artifact-metadata")
	if fmt.Sprint(e2e.Jobs["attest"].Permissions) != fmt.Sprint(wantPerms) {
		t.Errorf("e2e.yml's attest permissions %v, watch.yml's (without artifact-metadata) %v", e2e.Jobs["attest"].Permissions, wantPerms)
	}
	// The lint catches a missing id-token: write, the release's own
	// checksums as subjects, and a step that downloads them.
	broken := readWorkflow(t, watchPath)
	delete(broken.Jobs["attest"].Permissions, "id-token")
	if problems := attestProblems(broken, attestIn.Inputs, all); len(problems) == 0 {
		t.Error("a missing id-token: write went unnoticed")
	}
	broken = readWorkflow(t, watchPath)
	attestStep(broken).With["subject-checksums"] = "SHA256SUMS"
	if problems := attestProblems(broken, attestIn.Inputs, all); len(problems) == 0 {
		t.Error("the release's SHA256SUMS as subjects went unnoticed")
	}
	broken = readWorkflow(t, watchPath)
	j := broken.Jobs["attest"]
	j.Steps = append([]workflowStep{{Run: "gh release download modules --pattern SHA256SUMS"}}, j.Steps...)
	broken.Jobs["attest"] = j
	if problems := attestProblems(broken, attestIn.Inputs, all); len(problems) == 0 {
		t.Error("a step downloading from the release in the attest job went unnoticed")
	}
}

type workflowFile struct {
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Needs       any               `yaml:"needs"` // a name or a list
		Outputs     map[string]string `yaml:"outputs"`
		If          string            `yaml:"if"`
		Permissions map[string]string `yaml:"permissions"`
		Steps       []workflowStep    `yaml:"steps"`
	} `yaml:"jobs"`
}

type workflowStep struct {
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
}

func readWorkflow(t *testing.T, path string) workflowFile {
	t.Helper()
	var wf workflowFile
	if err := yaml.Unmarshal(mustRead(t, path), &wf); err != nil {
		t.Fatal(err)
	}
	return wf
}

// attestStep is the first actions/attest step of a workflow (an empty
// one if there is none).
func attestStep(wf workflowFile) *workflowStep {
	for _, name := range slices.Sorted(maps.Keys(wf.Jobs)) {
		for i, st := range wf.Jobs[name].Steps {
			if strings.HasPrefix(st.Uses, "actions/attest@") {
				return &wf.Jobs[name].Steps[i]
			}
		}
	}
	return &workflowStep{}
}

// attestProblems lints the attest steps of a workflow: inputs the action
// has, the permissions it needs, after a successful release, subjects
// from the release job's output (this run's files) and no other step.
func attestProblems(wf workflowFile, inputs map[string]any, perms []string) []string {
	var out []string
	found := false
	for name, j := range wf.Jobs {
		for _, st := range j.Steps {
			if !strings.HasPrefix(st.Uses, "actions/attest@") {
				continue
			}
			found = true
			for k := range st.With {
				if _, ok := inputs[k]; !ok {
					out = append(out, fmt.Sprintf("job %s: actions/attest has no input %s", name, k))
				}
			}
			for _, p := range perms {
				if j.Permissions[p] != "write" {
					out = append(out, fmt.Sprintf("job %s: attest needs %s: write", name, p))
				}
			}
			if !strings.Contains(fmt.Sprint(j.Needs), "release") || !strings.Contains(j.If, "needs.release.result == 'success'") {
				out = append(out, fmt.Sprintf("job %s: attests without a successful release", name))
			}
			// What this run built, from the release job's output; never a
			// file downloaded from the release (its SHA256SUMS holds what
			// anyone who can write the release put there).
			if sums := st.With["subject-checksums"]; sums != "${{ needs.release.outputs.subjects }}" {
				out = append(out, fmt.Sprintf("job %s: subject-checksums %s is not the release job's subjects output (this run's files)", name, sums))
			}
			if len(j.Steps) != 1 {
				out = append(out, fmt.Sprintf("job %s: runs %d steps besides actions/attest (the attesting job runs nothing else)", name, len(j.Steps)-1))
			}
			if rel, ok := wf.Jobs["release"]; !ok || !strings.HasPrefix(rel.Outputs["subjects"], "${{ steps.") || !strings.HasSuffix(rel.Outputs["subjects"], ".outputs.subjects }}") {
				out = append(out, "job release: no subjects output from its nginx-modbuild release step")
			}
		}
	}
	if !found {
		out = append(out, "no actions/attest step")
	}
	return out
}

// TestExampleWorkflowsPinBySHA is issue 33 item 6: every action the
// example workflows (what init writes) use is pinned by its full commit
// SHA with the version as a comment, as the README tells maintainers to
// do; the SHAs were read from the actions' own repositories. The one
// exception is this project's own action, whose commit is known only
// when it is released.
func TestExampleWorkflowsPinBySHA(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "examples", "workflows", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no example workflows")
	}
	pinned := regexp.MustCompile(`^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$`)
	n := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for i, l := range strings.Split(string(b), "\n") {
			_, uses, ok := strings.Cut(l, "uses: ")
			if !ok || strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			uses = strings.TrimSpace(uses)
			switch {
			case strings.HasPrefix(uses, "nginx-modbuild/nginx-modbuild@"), strings.HasPrefix(uses, "./"):
			case !pinned.MatchString(uses):
				t.Errorf("%s:%d: %q is not pinned by commit SHA with a # vX.Y.Z comment", filepath.Base(f), i+1, uses)
			default:
				n++
			}
		}
	}
	t.Logf("%d pinned uses", n)
}
