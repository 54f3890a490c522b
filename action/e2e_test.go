package action

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// actBin finds nektos/act: on PATH, or where scripts/test installs it.
func actBin(t *testing.T) string {
	if p, err := exec.LookPath("act"); err == nil {
		return p
	}
	p := filepath.Join(testenv.RepoRoot(), ".cache", "bin", "act")
	if _, err := os.Stat(p); err != nil {
		testenv.Missing(t, "act", "GOBIN=$PWD/.cache/bin go install github.com/nektos/act@v0.2.89")
	}
	return p
}

// copyTree copies src into dst, skipping what keep rejects.
func copyTree(t *testing.T, src, dst string, keep func(rel string, d fs.DirEntry) bool) {
	t.Helper()
	testenv.CopyTree(t, src, dst, keep)
}

// workspace makes the module repository act runs in: the example module
// at the root, the e2e workflows and configs, and this repository's action
// (its source, which the bootstrap builds) under nmb/.
func workspace(t *testing.T) string {
	t.Helper()
	ws := moduleWorkspace(t, "e2e")
	commitAll(t, ws)
	return ws
}

// moduleWorkspace makes a module repository from action/testdata/<name>
// (its workflows and config), with the example module at its root and
// this repository's action under nmb/; not committed yet.
func moduleWorkspace(t *testing.T, name string) string {
	t.Helper()
	root := testenv.RepoRoot()
	ws := t.TempDir()
	copyTree(t, filepath.Join(root, "action", "testdata", name), ws, func(string, fs.DirEntry) bool { return true })
	copyTree(t, filepath.Join(root, "examples", "hello-world"), ws, func(rel string, d fs.DirEntry) bool {
		return rel == "config" || strings.HasSuffix(rel, ".c")
	})
	copyAction(t, ws)
	return ws
}

// copyAction puts this repository's action (action.yml and the source its
// bootstrap builds) under ws/nmb.
func copyAction(t *testing.T, ws string) {
	t.Helper()
	copyTree(t, testenv.RepoRoot(), filepath.Join(ws, "nmb"), func(rel string, d fs.DirEntry) bool {
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		switch top {
		case "action.yml", "go.mod", "go.sum", "cmd", "internal", "matrix", "examples":
			return !strings.Contains(filepath.ToSlash(rel), "/testdata")
		case "action":
			return !strings.HasPrefix(filepath.ToSlash(rel), "action/testdata")
		}
		return false
	})
}

// commitAll makes ws a git repository with everything in one commit.
func commitAll(t *testing.T, ws string) {
	t.Helper()
	git := testenv.Tool(t, "git", "git")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.email=e2e@example.com", "-c", "user.name=e2e", "commit", "-qm", "module"},
	} {
		if out, err := exec.Command(git, append([]string{"-C", ws}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func act(t *testing.T, bin, ws, workflow string, env ...string) (string, error) {
	t.Helper()
	return actWith(t, bin, ws, workflow, nil, env...)
}

// actWith runs act with more flags.
func actWith(t *testing.T, bin, ws, workflow string, flags []string, env ...string) (string, error) {
	t.Helper()
	// Secrets from a file: a -s NAME=VALUE is in act's command line,
	// which the module code in the jobs can read (no GitHub runner has
	// one).
	secrets := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(secrets, []byte("GITHUB_TOKEN="+e2eToken+"\nE2E_REPO_KEY="+e2eKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"push", "-W", ".github/workflows/" + workflow, "-P", "ubuntu-latest=-self-hosted", "--pull=false",
		"--secret-file", secrets}
	return runAct(t, bin, ws, workflow, append(args, flags...), env)
}

// The e2e flow's secrets: its token, and a signing key it gives build.
const (
	e2eToken = "e2e-token"
	e2eKey   = "e2e-signing-key-value-never-for-build"
)

// runAct runs act with args and each of env as --env in ws, and returns
// what it printed.
func runAct(t *testing.T, bin, ws, label string, args, env []string) (string, error) {
	t.Helper()
	for _, e := range env {
		args = append(args, "--env", e)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = ws
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("act %s: %s, %v", label, time.Since(start).Round(time.Second), err)
	return out.String(), err
}

// TestEndToEndWithAct runs this repository's action.yml in real workflow
// jobs with nektos/act on the host: a plan job's matrix output feeds the
// build job's strategy.matrix, the build cells compile the example module
// against nginx 1.22.1 and 1.26.3 from the local mirror, a release job
// uploads to the GitHub fake and a bump job opens its pull request there;
// an attest job runs actions/attest on the release's files as the watch
// workflow does, as far as it gets without the network (checkAttestJob).
// It asserts the fake's final state. A second workflow builds a module that
// does not compile and must fail with an annotation on its file and line.
func TestEndToEndWithAct(t *testing.T) {
	bin := actBin(t)
	testenv.Tool(t, "go", "golang")
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "make", "make")
	mirror := testenv.Mirror(t, "nginx-1.26.3.tar.gz")

	gh := ghfake.New(t)
	if err := gh.LoadTags("nginx/nginx", filepath.Join(testenv.RepoRoot(), "internal", "plan", "upstream", "testdata", "nginx-nginx-tags.json")); err != nil {
		t.Fatal(err)
	}
	gh.RequireToken(e2eToken)
	shared := t.TempDir()
	// The module's config reads its environment and its ancestors'.
	dump := filepath.Join(shared, "spy")
	ws := moduleWorkspace(t, "e2e")
	config, err := os.ReadFile(filepath.Join(ws, "config"))
	if err != nil {
		t.Fatal(err)
	}
	name, rest, _ := strings.Cut(string(config), "\n")
	os.WriteFile(filepath.Join(ws, "config"), []byte(name+"\n"+testenv.SpyScript(dump)+rest), 0o644)
	commitAll(t, ws)
	gh.CreateRepo("acme/mod", "main")
	files := map[string]string{}
	for _, p := range []string{".github/nginx-modbuild.yml", "config", "ngx_http_hello_world_module.c"} {
		data, err := os.ReadFile(filepath.Join(ws, p))
		if err != nil {
			t.Fatal(err)
		}
		files[p] = string(data)
	}
	gh.CommitFiles("acme/mod", "main", "the module", files)

	flags, env := attestArgs(t, gh, "acme/mod")
	out, err := actWith(t, bin, ws, "e2e.yml", flags, append(env, "FAKE_API="+gh.URL, "NGINX_MODBUILD_UPLOAD_URL="+gh.Uploads.URL, "MIRROR="+mirror, "SHARED="+shared)...)
	if err != nil && !slices.Equal(failedJobNames(out), []string{"attest"}) {
		t.Fatalf("act: %v\n%s", err, out)
	}
	checkAttestJob(t, gh, out)
	flowSecrets := map[string]string{"GITHUB_TOKEN": e2eToken, "E2E_REPO_KEY": e2eKey, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": ghfake.RuntimeToken,
		"ACTIONS_ID_TOKEN_REQUEST_URL": gh.IDTokenURL("acme/mod")}
	testenv.NoSecretsIn(t, dump, flowSecrets, 2) // the config, once per cell
	checkSubjects(t, gh, shared, []string{manifest.AssetName("ngx_http_hello_world_module", "1.22.1", "debian-12", "amd64"),
		manifest.AssetName("ngx_http_hello_world_module", "1.26.3", "debian-12", "amd64")})

	// The release holds both builds, a manifest that lists them, checksums
	// and the compatibility table.
	rels := gh.Releases("acme/mod")
	if len(rels) != 1 || rels[0].Tag != "v1.0.0" {
		t.Fatalf("releases %+v\n%s", rels, out)
	}
	assets := map[string]ghfake.Asset{}
	for _, a := range rels[0].Assets {
		assets[a.Name] = a
	}
	for v, number := range map[string]uint64{"1.22.1": 1022001, "1.26.3": 1026003} {
		name := manifest.AssetName("ngx_http_hello_world_module", v, "debian-12", "amd64")
		a, ok := assets[name]
		if !ok {
			t.Errorf("no asset %s in %v", name, assets)
			continue
		}
		f, err := modinfo.Read(bytes.NewReader(a.Data))
		if err != nil || f.Modules[0].Name != "ngx_http_hello_world_module" || f.Modules[0].Version != number {
			t.Errorf("%s: %v %+v", name, err, f)
		}
	}
	m, err := manifest.Parse("manifest.json", assets["manifest.json"].Data)
	if err != nil || len(m.Entries) != 2 || len(m.Cells) != 2 {
		t.Errorf("manifest: %v %+v", err, m)
	}
	if len(assets) != 4 || !strings.Contains(string(assets["SHA256SUMS"].Data), "ngx_http_hello_world_module_1.26.3_debian-12_amd64.so") ||
		!strings.Contains(rels[0].Body, "| ngx_http_hello_world_module | `") || !strings.Contains(rels[0].Body, "| 1.26.3 | ✓ [.so](https://github.com/") || !strings.Contains(rels[0].Body, "sudo nginx-modbuild install --repo ") {
		t.Errorf("assets %v, notes:\n%s", len(assets), rels[0].Body)
	}

	// The bump job opened one pull request to the newest stable release.
	pulls := gh.Pulls("acme/mod")
	if len(pulls) != 1 || pulls[0].Title != "Bump nginx from 1.22.1 to 1.30.4" || pulls[0].Head != "nginx-modbuild/nginx-stable" ||
		strings.Join(pulls[0].Labels, ",") != "dependencies" {
		t.Fatalf("pulls %+v\n%s", pulls, out)
	}
	if cfg, _ := gh.File("acme/mod", "nginx-modbuild/nginx-stable", ".github/nginx-modbuild.yml"); !strings.Contains(cfg, "pin: 1.30.4") {
		t.Errorf("config on the bump branch:\n%s", cfg)
	}
	for _, r := range gh.Log() {
		if r.Status == 401 {
			t.Errorf("a request without the token: %+v", r)
		}
	}

	// A module that does not compile: the job fails with an annotation.
	out, err = act(t, bin, ws, "broken.yml", "MIRROR="+mirror, "SHARED="+shared)
	if err == nil {
		t.Fatalf("the broken build succeeded:\n%s", out)
	}
	// go-githubactions writes the properties sorted: col, file, line.
	if !regexp.MustCompile(`::error col=[0-9]+,file=broken/broken.c,line=5::`).MatchString(out) || !strings.Contains(out, "no_such_symbol") {
		t.Errorf("no annotation on broken/broken.c:5:\n%s", out)
	}
}

// TestPartialFailureEndToEnd is issue 12's acceptance: the watch workflow
// under act with a matrix of four cells (nginx 1.18.0 and 1.22.1 x two
// distros) where a real module, uploadprogress 0.9.4, does not compile
// against any of them: the good .so files are released anyway, the notes
// show the failed cells with the compiler's reason, the bump pull request
// (to 1.22.1) lists them, and the run ends in failure. Run again with
// nothing new, it uploads nothing.
func TestPartialFailureEndToEnd(t *testing.T) {
	bin := actBin(t)
	testenv.Tool(t, "go", "golang")
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "make", "make")
	up := "libnginx-mod-http-uploadprogress_0.9.4.orig.tar.gz"
	mirror := testenv.Mirror(t, up)
	testenv.Mirror(t, "nginx-1.18.0.tar.gz.asc")
	testenv.Mirror(t, "nginx-1.22.1.tar.gz")

	gh := ghfake.New(t)
	if err := gh.LoadTags("nginx/nginx", tagsUpTo(t, "1.22.1")); err != nil {
		t.Fatal(err)
	}
	gh.RequireToken("e2e-token")
	ws := moduleWorkspace(t, "partial")
	copyTree(t, celltest.Module(t, mirror, up), filepath.Join(ws, "up"), func(string, fs.DirEntry) bool { return true })
	commitAll(t, ws)
	gh.CreateRepo("acme/mod", "main")
	gh.CommitFiles("acme/mod", "main", "the module", map[string]string{
		".github/nginx-modbuild.yml": string(mustRead(t, filepath.Join(ws, ".github", "nginx-modbuild.yml")))})
	shared := t.TempDir()
	env := []string{"FAKE_API=" + gh.URL, "NGINX_MODBUILD_UPLOAD_URL=" + gh.Uploads.URL, "MIRROR=" + mirror, "SHARED=" + shared}

	out, err := act(t, bin, ws, "partial.yml", env...)
	if err == nil {
		t.Errorf("the run succeeded though cells failed:\n%s", out)
	}
	rels := gh.Releases("acme/mod")
	if len(rels) != 1 {
		t.Fatalf("releases %+v\n%s", rels, out)
	}
	assets := map[string]bool{}
	for _, a := range rels[0].Assets {
		assets[a.Name] = true
	}
	for _, v := range []string{"1.18.0", "1.22.1"} {
		for _, d := range []string{"debian-12", "debian-13"} {
			name := manifest.AssetName("ngx_http_hello_world_module", v, d, runtimeArch())
			if !assets[name] {
				t.Errorf("the release lacks the good module's %s", name)
			}
			if bad := manifest.AssetName("ngx_http_uploadprogress_module", v, d, runtimeArch()); assets[bad] {
				t.Errorf("the release has %s, which did not compile", bad)
			}
		}
	}
	if !strings.Contains(rels[0].Body, "✗ compile: ") || !strings.Contains(rels[0].Body, "ngx_table_elt_t") {
		t.Errorf("the notes do not show the failed cells with the reason:\n%s", rels[0].Body)
	}
	pulls := gh.Pulls("acme/mod")
	if len(pulls) != 1 || pulls[0].Title != "Bump nginx from 1.18.0 to 1.22.1" || !strings.Contains(pulls[0].Body, "✗ compile: ") {
		t.Fatalf("pulls %+v\n%s", pulls, out)
	}

	// Nothing new: nothing planned, nothing uploaded.
	uploads := func() int {
		n := 0
		for _, r := range gh.Log() {
			if r.Host == "uploads" && r.Method == "POST" {
				n++
			}
		}
		return n
	}
	before := uploads()
	out, err = act(t, bin, ws, "partial.yml", env...)
	if err != nil {
		t.Errorf("the re-run failed: %v\n%s", err, out)
	}
	if n := uploads() - before; n != 0 {
		t.Errorf("the re-run uploaded %d files", n)
	}
	if !strings.Contains(out, "has not changed since") {
		t.Errorf("the re-run's plan does not say why the failed cells are skipped:\n%s", out)
	}
}

func runtimeArch() string { return runtime.GOARCH }
