package action

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cli"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestSummaryHoldsNoSecret is issue 16's summary-secret test: plan,
// build, release and bump run as Action steps with a token; the step
// summary file never contains the token or a workflow command (the
// ::add-mask:: that release and bump print put the token there in clear).
func TestSummaryHoldsNoSecret(t *testing.T) {
	const token = "ghp_s3cretTOKENvalue"
	const signingKey = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nnot-a-real-key-s3cret\n-----END PGP PRIVATE KEY BLOCK-----\n"
	gh := ghfake.New(t)
	gh.CreateRepo("acme/mod", "main")
	if err := gh.LoadTags("nginx/nginx", filepath.Join(testenv.RepoRoot(), "internal", "plan", "upstream", "testdata", "nginx-nginx-tags.json")); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	os.MkdirAll(filepath.Join(repo, ".github"), 0o755)
	os.WriteFile(filepath.Join(repo, "config"), []byte("ngx_addon_name=x\n"), 0o644)
	os.WriteFile(filepath.Join(repo, ".github", "nginx-modbuild.yml"), []byte("nginx: {pin: 1.26.3}\nmodules: [{path: .}]\n"), 0o644)
	dist := filepath.Join(repo, "dist")
	os.MkdirAll(dist, 0o755)
	data := []byte("\x7fELF module")
	sum := sha256.Sum256(data)
	os.WriteFile(filepath.Join(dist, "ngx_http_x_module_1.26.3.so"), data, 0o644)
	m := manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{{Module: "ngx_http_x_module", Source: ".", Nginx: "1.26.3",
		Distro: "debian-12", Arch: "amd64", File: "ngx_http_x_module_1.26.3.so", SHA256: hex.EncodeToString(sum[:])}},
		Cells: []manifest.Cell{{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64"}}}
	os.WriteFile(filepath.Join(dist, manifest.CellFileName("1.26.3", "debian-12", "amd64")), m.Encode(), 0o644)
	failed := manifest.Manifest{Schema: manifest.Schema, Cells: []manifest.Cell{{Nginx: "1.26.3", Distro: "alpine-3.22", Arch: "amd64",
		Failures: []manifest.Failure{{Module: "ngx_http_x_module", Source: ".", Phase: "compile", Error: "x.c:3: error: boom | " + token}}}}}
	os.WriteFile(filepath.Join(dist, manifest.CellFileName("1.26.3", "alpine-3.22", "amd64")), failed.Encode(), 0o644)

	// What each step's summary must report, besides keeping the secret.
	reports := map[string][]string{
		"plan": {"cells planned", "| 1.26.3 | stable | pin | all |", "| nginx 1.26.3 debian-12/amd64 | planned | pin |"},
		"release": {"1 uploaded, 0 replaced, 0 skipped (unchanged), 0 kept from a concurrent run, 1 failed",
			"- `ngx_http_x_module_1.26.3_debian-12_amd64.so`", "| nginx 1.26.3 alpine-3.22/amd64 | ngx_http_x_module | compile | x.c:3: error: boom \\| *** |"},
	}
	for _, step := range []map[string]string{
		{"INPUT_COMMAND": "plan", "INPUT_UPSTREAM_URL": gh.URL},
		{"INPUT_COMMAND": "build", "INPUT_NGINX": "1.26.3", "INPUT_MIRROR": t.TempDir(), "INPUT_OUT": filepath.Join(t.TempDir(), "out")},
		{"INPUT_COMMAND": "release", "INPUT_TAG": "modules", "INPUT_CREATE": "true", "INPUT_DIST": dist},
		{"INPUT_COMMAND": "bump", "INPUT_UPSTREAM_URL": gh.URL, "INPUT_DRY_RUN": "true"},
		// A key that does not parse: the error names the input, not the key.
		{"INPUT_COMMAND": "release", "INPUT_RELEASE_DIR": t.TempDir(), "INPUT_REPOSITORIES": "true", "INPUT_DIST": dist, "NGINX_MODBUILD_SIGNING_KEY": signingKey},
	} {
		summary := filepath.Join(t.TempDir(), "summary.md")
		os.WriteFile(summary, nil, 0o644)
		vars := map[string]string{"GITHUB_STEP_SUMMARY": summary, "GITHUB_ACTIONS": "true", "NGINX_MODBUILD_TOKEN": token,
			"GITHUB_API_URL": gh.URL, "NGINX_MODBUILD_UPLOAD_URL": gh.Uploads.URL, "GITHUB_REPOSITORY": "acme/mod",
			"NGINX_MODBUILD_CACHE": t.TempDir()}
		for k, v := range step {
			vars[k] = v
		}
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), &cli.Deps{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] },
			Dir: repo, Version: "test"})
		got, _ := os.ReadFile(summary)
		t.Logf("%s: err %v; summary %d bytes", step["INPUT_COMMAND"], err, len(got))
		if len(got) == 0 {
			t.Errorf("%s: no summary written", step["INPUT_COMMAND"])
		}
		if strings.Contains(string(got), token) || strings.Contains(string(got), "::") || strings.Contains(string(got), "not-a-real-key-s3cret") {
			t.Errorf("%s: the summary holds the token or a workflow command:\n%s", step["INPUT_COMMAND"], got)
		}
		if step["INPUT_REPOSITORIES"] != "" {
			if err == nil || !strings.Contains(err.Error(), "read the signing key") {
				t.Errorf("a key that does not parse: %v", err)
			}
			continue
		}
		for _, want := range reports[step["INPUT_COMMAND"]] {
			if !strings.Contains(string(got), want) {
				t.Errorf("%s: the summary lacks %q:\n%s", step["INPUT_COMMAND"], want, got)
			}
		}
		if step["INPUT_COMMAND"] == "release" && (err != nil || !strings.Contains(stdout.String(), "::add-mask::"+token)) {
			t.Errorf("release: err %v; the log must still carry the mask command:\n%s", err, stdout.String())
		}
	}
}
