package action

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cli"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestInitEndToEndWithAct is issue 16's acceptance for init: a copy of a
// real module repository (Debian's headers-more sources) set up by init,
// whose config the act end-to-end flow (plan, build matrix, release, bump)
// then takes unchanged. The repository is set up as of nginx 1.18.0's
// release (the fake nginx/nginx holds the tags up to it), the newest
// stable release then and Debian 11's packaged nginx, for which Debian's
// archive also serves nginx's signature: the build verifies the sources
// as it would against nginx.org, with no checksum pinned by hand.
func TestInitEndToEndWithAct(t *testing.T) {
	bin := actBin(t)
	testenv.Tool(t, "go", "golang")
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "make", "make")
	mirror := testenv.Mirror(t, "nginx-1.18.0.tar.gz.asc")
	tarball := "libnginx-mod-http-headers-more-filter_0.34.orig.tar.gz"
	testenv.Mirror(t, tarball)

	gh := ghfake.New(t)
	tags := tagsUpTo(t, "1.18.0")
	if err := gh.LoadTags("nginx/nginx", tags); err != nil {
		t.Fatal(err)
	}
	gh.RequireToken("e2e-token")

	ws := t.TempDir()
	copyTree(t, celltest.Module(t, mirror, tarball), ws, func(string, fs.DirEntry) bool { return true })
	var stdout, stderr bytes.Buffer
	env := map[string]string{"NGINX_MODBUILD_CACHE": t.TempDir(), "GITHUB_API_URL": gh.URL, "GITHUB_TOKEN": "e2e-token"}
	err := cli.Run(context.Background(), &cli.Deps{Stdout: &stdout, Stderr: &stderr, Dir: ws, Version: "test", HTTP: &http.Client{},
		Getenv: func(k string) string { return env[k] }},
		[]string{"init", "--lines", "stable", "--distros", "debian-11", "--upstream-url", gh.URL})
	if err != nil {
		t.Fatalf("init: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	written, _ := os.ReadFile(filepath.Join(ws, ".github", "nginx-modbuild.yml"))
	t.Logf("init wrote:\n%s", written)
	// .travis.yml's matrix (1.19.3, 1.19.9, 1.23.0) is no pin: the newest
	// stable release is.
	if !strings.Contains(string(written), "pin: 1.18.0        # the newest stable release") || strings.Contains(stderr.String(), "warning") {
		t.Fatalf("init: want pin 1.18.0, the newest stable, with no warning:\n%s", stderr.String())
	}
	// The flow's workflow, and the action under test, beside init's files.
	os.WriteFile(filepath.Join(ws, ".github", "workflows", "e2e.yml"),
		mustRead(t, filepath.Join(testenv.RepoRoot(), "action", "testdata", "e2e", ".github", "workflows", "e2e.yml")), 0o644)
	copyAction(t, ws)
	commitAll(t, ws)

	gh.CreateRepo("acme/mod", "main")
	gh.CommitFiles("acme/mod", "main", "init", map[string]string{".github/nginx-modbuild.yml": string(written), "config": string(mustRead(t, filepath.Join(ws, "config")))})
	flags, actEnv := attestArgs(t, gh, "acme/mod")
	out, err := actWith(t, bin, ws, "e2e.yml", flags, append(actEnv, "FAKE_API="+gh.URL, "NGINX_MODBUILD_UPLOAD_URL="+gh.Uploads.URL, "MIRROR="+mirror, "SHARED="+t.TempDir())...)
	if err != nil && !slices.Equal(failedJobNames(out), []string{"attest"}) {
		t.Fatalf("act: %v\n%s", err, out)
	}
	if !strings.Contains(out, "nginx-1.18.0.tar.gz sha256 4c373e7ab5bf91d34a4f11a0c9496561061ba5eee6020db272a17a7228d35f99: signature by") {
		t.Errorf("the build did not verify nginx's signature:\n%s", out)
	}
	if after, _ := os.ReadFile(filepath.Join(ws, ".github", "nginx-modbuild.yml")); !bytes.Equal(after, written) {
		t.Errorf("the config changed during the run")
	}
	rels := gh.Releases("acme/mod")
	if len(rels) != 1 {
		t.Fatalf("releases %+v\n%s", rels, out)
	}
	name := manifest.AssetName("ngx_http_headers_more_filter_module", "1.18.0", "debian-11", "amd64")
	var found bool
	for _, a := range rels[0].Assets {
		if a.Name != name {
			continue
		}
		found = true
		f, err := modinfo.Read(bytes.NewReader(a.Data))
		if err != nil || len(f.Modules) != 1 || f.Modules[0].Version != 1018000 {
			t.Errorf("%s: %v %+v", name, err, f)
		}
	}
	if !found {
		t.Errorf("no %s in the release:\n%s", name, out)
	}
	if !strings.Contains(out, "nginx 1.18.0 is the newest stable release: nothing to bump") {
		t.Errorf("the bump job did not find the pin up to date:\n%s", out)
	}
}

// tagsUpTo writes nginx/nginx's recorded tags as they were when version v
// was the newest release, and returns the file.
func tagsUpTo(t *testing.T, v string) string {
	t.Helper()
	var tags []map[string]any
	if err := json.Unmarshal(mustRead(t, filepath.Join(testenv.RepoRoot(), "internal", "plan", "upstream", "testdata", "nginx-nginx-tags.json")), &tags); err != nil {
		t.Fatal(err)
	}
	limit, _ := nginxver.Parse(v)
	var keep []map[string]any
	for _, tag := range tags {
		name, _ := tag["name"].(string)
		tv, err := nginxver.Parse(strings.TrimPrefix(name, "release-"))
		if err == nil && !tv.GreaterThan(limit) {
			keep = append(keep, tag)
		}
	}
	b, _ := json.Marshal(keep)
	p := filepath.Join(t.TempDir(), "tags.json")
	os.WriteFile(p, b, 0o644)
	return p
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
