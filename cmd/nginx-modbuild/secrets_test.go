package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// secrets are what a workflow step may hold; none may reach module code.
var secrets = map[string]string{
	"GITHUB_TOKEN":                   "ghs_issue30_github_token",
	"GH_TOKEN":                       "ghs_issue30_gh_token",
	"NGINX_MODBUILD_TOKEN":           "ghs_issue30_modbuild_token",
	"NGINX_MODBUILD_SIGNING_KEY":     "-----BEGIN PGP PRIVATE KEY BLOCK-----\nissue30-signing-key\n-----END PGP PRIVATE KEY BLOCK-----",
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "issue30-oidc-request-token",
	"ACTIONS_ID_TOKEN_REQUEST_URL":   "http://127.0.0.1:9/issue30-oidc-request-url",
	"ACTIONS_RUNTIME_TOKEN":          "issue30-runtime-token",
	"INPUT_TOKEN":                    "ghs_issue30_input_token",
}

// spyRepo is a module repository whose config and run: test dump what
// they can see into dump.
func spyRepo(t *testing.T, dump string) string {
	t.Helper()
	repo := t.TempDir()
	src, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "examples", "hello-world", "ngx_http_hello_world_module.c"))
	if err != nil {
		t.Fatal(err)
	}
	script := testenv.SpyScript(dump)
	files := map[string]string{
		"spy/ngx_http_hello_world_module.c": string(src),
		"spy/config": "ngx_addon_name=ngx_http_hello_world_module\n" + script +
			"ngx_module_type=HTTP\nngx_module_name=ngx_http_hello_world_module\nngx_module_srcs=\"$ngx_addon_dir/ngx_http_hello_world_module.c\"\n. auto/module\n",
		"spy/t/spy.sh": "echo '== test' >>" + dump + "\n" + script + "echo 1..1\necho ok 1\n",
		".github/nginx-modbuild.yml": `nginx:
  versions: [1.22.1]
  sha256: {1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31}
modules:
  - path: spy
    test: {run: sh t/spy.sh}
smoke:
  config: |
    location = /hello { hello_world "Hello"; }
  request: /hello
`,
	}
	for name, body := range files {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

// checkDump fails the test when a secret is in the dump, or the dump
// does not show that the config, the run: test and the tool's own
// process were read.
func checkDump(t *testing.T, dump string) {
	t.Helper()
	testenv.NoSecretsIn(t, dump, secrets, 2)
	if data, _ := os.ReadFile(dump); !strings.Contains(string(data), "== test") {
		t.Errorf("the run: test did not run:\n%s", testenv.Tail(string(data), 20))
	}
}

// TestModuleCodeSeesNoSecret is issue 30's first item: a module whose
// config and run: test read their environment and every ancestor's
// /proc/PID/environ find no token, key or OIDC request token, through
// the CLI and through the Action's entry as action.yml runs it.
func TestModuleCodeSeesNoSecret(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "make", "make")
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	bin := testenv.ToolBinary(t)
	run := actionRunLine(t)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C"}
	for name, value := range secrets {
		base = append(base, name+"="+value)
	}

	t.Run("cli", func(t *testing.T) {
		dump := filepath.Join(t.TempDir(), "dump")
		repo := spyRepo(t, dump)
		cmd := exec.Command(bin, "build", "--nginx", "1.22.1", "--mirror", mirror, "--test", "--out", filepath.Join(t.TempDir(), "dist"))
		cmd.Dir, cmd.Env = repo, base
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build: %v\n%s", err, testenv.Tail(string(out), 30))
		}
		if !strings.Contains(string(out), "started again without") {
			t.Errorf("build did not say it dropped the secrets:\n%s", testenv.Tail(string(out), 30))
		}
		checkDump(t, dump)
	})
	t.Run("action", func(t *testing.T) {
		dump := filepath.Join(t.TempDir(), "dump")
		repo := spyRepo(t, dump)
		summary := filepath.Join(t.TempDir(), "summary")
		cmd := exec.Command("sh", "-c", run)
		cmd.Dir = repo
		// What the step's env: gives, at worst: action.yml passes build no
		// token or key, but a workflow may set secrets in the job's env.
		cmd.Env = append(base, "NGINX_MODBUILD_BIN="+bin, "GITHUB_WORKSPACE="+repo, "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary,
			"GITHUB_OUTPUT="+filepath.Join(t.TempDir(), "output"),
			"INPUT_COMMAND=build", "INPUT_NGINX=1.22.1", "INPUT_MIRROR="+mirror, "INPUT_TEST=true", "INPUT_OUT="+filepath.Join(t.TempDir(), "dist"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("action build: %v\n%s", err, testenv.Tail(string(out), 30))
		}
		checkDump(t, dump)
	})
}

// actionRunLine is the run: line of action.yml's nginx-modbuild step, and
// it checks that the step gives build neither the token nor the key.
func actionRunLine(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Runs struct {
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
	for _, s := range a.Runs.Steps {
		if s.ID != "run" {
			continue
		}
		for _, k := range []string{"NGINX_MODBUILD_TOKEN", "NGINX_MODBUILD_SIGNING_KEY"} {
			if v := s.Env[k]; !strings.Contains(v, "inputs.command != 'build' &&") {
				t.Errorf("action.yml gives build %s: %s", k, v)
			}
		}
		if !strings.HasPrefix(s.Run, "exec ") {
			t.Errorf("action.yml's step runs %q: a shell holding the step's environment stays above the binary (want exec)", s.Run)
		}
		return s.Run
	}
	t.Fatal("action.yml has no step with id run")
	return ""
}
