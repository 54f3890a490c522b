package action

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// attestAction builds actions/attest v4 from its sources in
// testdata/actions-attest (commit 1e69f48) as its own release process
// does: npm ci from its package-lock.json (every package checked against
// the lock's integrity hash), then ncc into dist/. The build is kept in
// .cache/actions-attest/<hash of the sources>; only action.yml, dist/
// and the LICENSE are kept. act runs it in place of the action GitHub
// would fetch (--local-repository).
func attestAction(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testenv.RepoRoot(), "action", "testdata", "actions-attest")
	h := sha256.New()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		h.Write([]byte(rel + "\x00"))
		h.Write(mustRead(t, p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testenv.RepoRoot(), ".cache", "actions-attest", hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "dist", "index.js")); err == nil {
		return dir
	}
	npm := testenv.Tool(t, "npm", "npm")
	testenv.Tool(t, "node", "nodejs")
	work := t.TempDir()
	copyTree(t, src, work, func(string, fs.DirEntry) bool { return true })
	for _, args := range [][]string{
		{"ci", "--ignore-scripts", "--no-audit", "--no-fund"},
		{"exec", "--offline", "--", "ncc", "build", "src/index.ts", "--license", "licenses.txt"},
	} {
		cmd := exec.Command(npm, args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building actions/attest: npm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	stage := dir + ".tmp"
	os.RemoveAll(stage)
	copyTree(t, work, stage, func(rel string, d fs.DirEntry) bool {
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		return top == "action.yml" || top == "LICENSE" || top == "dist"
	})
	if err := os.Rename(stage, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// attestSHA is the commit of actions/attest v4.2.2, which the watch
// workflow (and e2e.yml, which must match it) pins.
const attestSHA = "1e69f48acb82d1966a394da916b4c1698aa569d6"

// attestArgs are act's flags and environment for a workflow with the
// attest job: actions/attest at the commit the workflows pin, from attestAction, and the ID token
// service a job with id-token: write finds (the fake's OIDC host).
func attestArgs(t *testing.T, gh *ghfake.Server, repo string) (flags, env []string) {
	return []string{"--local-repository", "actions/attest@" + attestSHA + "=" + attestAction(t)},
		[]string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + gh.IDTokenURL(repo), "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + ghfake.RuntimeToken}
}

// failedJobNames lists the jobs act reports as failed, sorted.
func failedJobNames(out string) []string {
	var jobs []string
	for _, m := range regexp.MustCompile(`(?m)^\[[^/\]]+/([^\]]+?)\s*\]\s+🏁\s+Job failed`).FindAllStringSubmatch(out, -1) {
		if !slices.Contains(jobs, m[1]) {
			jobs = append(jobs, m[1])
		}
	}
	slices.Sort(jobs)
	return jobs
}

// checkAttestJob asserts what the attest job of the end-to-end flow did
// under act, where its last step cannot succeed: nothing downloaded the
// release's SHA256SUMS (the subjects are the release job's output);
// actions/attest (the real action, built from its sources) started with
// the job's inputs, saw the ID token service that id-token: write gives a
// job (without it: "missing id-token permission"), asked it for a token
// for the provenance's claims, and failed where it needs the network:
// reading the keys of GitHub's OIDC issuer,
// token.actions.githubusercontent.com. It is the only job that failed.
// checkSubjects checks what it was handed.
func checkAttestJob(t *testing.T, gh *ghfake.Server, out string) {
	t.Helper()
	if got := failedJobNames(out); !slices.Equal(got, []string{"attest"}) {
		t.Errorf("failed jobs %v, want only attest (which needs the network)", got)
	}
	var downloaded, asked bool
	for _, r := range gh.Log() {
		downloaded = downloaded || r.Host == "storage" && strings.Contains(r.Path, "/SHA256SUMS") && r.Status == 200
		asked = asked || r.Host == "oidc" && r.Status == 200
	}
	if downloaded || !asked {
		t.Errorf("attest job: SHA256SUMS downloaded %v (never: its subjects are the release job's output), ID token asked for %v:\n%s\n%+v", downloaded, asked, jobLines(out, "attest"), gh.Log())
	}
	lines := jobLines(out, "attest")
	for _, want := range []string{"Attestation type: Build Provenance", "Failed to get ID token: ", "token.actions.githubusercontent.com"} {
		if !strings.Contains(lines, want) {
			t.Errorf("attest job: no %q in its log:\n%s", want, lines)
		}
	}
	for _, bad := range []string{"subject checksums file not found", "missing \"id-token\" permission", "Unexpected input"} {
		if strings.Contains(lines, bad) {
			t.Errorf("attest job: %q:\n%s", bad, lines)
		}
	}
}

// jobLines is act's output for one job: the lines it prefixes with
// "[workflow/job]".
func jobLines(out, job string) string {
	var b strings.Builder
	prefix := regexp.MustCompile(`^\[[^/\]]+/` + regexp.QuoteMeta(job) + `\s*\]`)
	for _, l := range strings.Split(out, "\n") {
		if prefix.MatchString(l) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// checkSubjects: what the release job handed the attest job (the e2e
// flow's subjects job writes it to SHARED/subjects) is a checksum line for
// each module file the run released, with the bytes the release holds.
func checkSubjects(t *testing.T, gh *ghfake.Server, shared string, files []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(shared, "subjects"))
	if err != nil {
		t.Fatalf("the subjects job wrote nothing: %v", err)
	}
	var want []string
	for _, a := range gh.Releases("acme/mod")[0].Assets {
		if slices.Contains(files, a.Name) {
			want = append(want, a.SHA256+"  "+a.Name)
		}
	}
	got := strings.Split(strings.TrimSpace(string(data)), "\n")
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) || len(want) != len(files) {
		t.Errorf("the attest job was handed\n%s\nwant the run's files as released:\n%s", data, strings.Join(want, "\n"))
	}
}
