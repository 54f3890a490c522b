package action

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestContainerJobsWithAct is the watch flow with its build cells where
// they really run: act runs each matrix cell in container: debian:11,
// debian:12 or debian:13 (bare images from scripts/images), with
// --install-deps; plan, release and bump run on the host against the
// GitHub fake. With packaged: true each Debian release's own nginx is
// built for it, besides the pin and 1.26.3. Then each release's own nginx
// package, in a fresh container of the same image, loads the released
// .so built for it (in the manifest's order) and answers through it, and
// refuses the one built for another version. The packaged cells build
// like the release's nginx (issue 31): on Debian 12 and 13 from
// nginx-dev's tree.
func TestContainerJobsWithAct(t *testing.T) {
	bin := actBin(t)
	goBin := testenv.Tool(t, "go", "golang")
	mirror := testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	testenv.Mirror(t, "nginx-1.18.0.tar.gz.asc")
	for _, img := range []string{"debian:11", "debian:12", "debian:13"} {
		testenv.Image(t, img)
	}
	docker := testenv.Docker(t)
	// The image target: an image made here whose nginx is a custom build.
	custom := testenv.MadeImage(t, "debian:12", "nginx-modbuild-test/custom-nginx", testenv.CustomNginx,
		testenv.Mount{Host: mirror, Container: "/mirror", ReadOnly: true})

	gh := ghfake.New(t)
	if err := gh.LoadTags("nginx/nginx", tagsUpTo(t, "1.26.3")); err != nil {
		t.Fatal(err)
	}
	gh.RequireToken("e2e-token")
	ws := moduleWorkspace(t, "containers")
	cfgFile := filepath.Join(ws, ".github", "nginx-modbuild.yml")
	if err := os.WriteFile(cfgFile, []byte(strings.ReplaceAll(string(mustRead(t, cfgFile)), "@CUSTOM_IMAGE@", custom)), 0o644); err != nil {
		t.Fatal(err)
	}

	// The cells plan makes: each Debian release's own nginx, the pin and
	// the config's version.
	cells := map[string][]string{
		"debian-11": {"1.18.0", "1.22.1", "1.26.3"},
		"debian-12": {"1.22.1", "1.26.3"},
		"debian-13": {"1.22.1", "1.26.3"},
	}
	// The paths the containers see, filled into the workflow.
	shared := t.TempDir()
	goEnv := func(name string) string {
		out, err := exec.Command(goBin, "env", name).Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	// Each cell downloads its packages afresh, as on GitHub: act takes
	// container.volumes literally (no matrix expressions), so no apt
	// cache per cell can be mounted, and apt locks a shared one.
	wf := filepath.Join(ws, ".github", "workflows", "containers.yml")
	text := strings.NewReplacer("@SHARED@", shared, "@MIRROR@", mirror,
		"@GOROOT@", goEnv("GOROOT"), "@GOCACHE@", goEnv("GOCACHE"), "@GOMODCACHE@", goEnv("GOMODCACHE")).Replace(string(mustRead(t, wf)))
	if err := os.WriteFile(wf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	commitAll(t, ws)
	gh.CreateRepo("acme/mod", "main")
	gh.CommitFiles("acme/mod", "main", "the module", map[string]string{
		".github/nginx-modbuild.yml": string(mustRead(t, filepath.Join(ws, ".github", "nginx-modbuild.yml")))})

	// act names its job containers and volumes after the workflow and
	// job; it leaves a job's behind when a composite step fails early.
	// None outlives the test.
	removeActLeftovers(t, docker, "act-containers-")
	t.Cleanup(func() { removeActLeftovers(t, docker, "act-containers-") })
	out, err := act(t, bin, ws, "containers.yml", "FAKE_API="+gh.URL, "NGINX_MODBUILD_UPLOAD_URL="+gh.Uploads.URL)
	if err != nil {
		// The whole log is long (seven cells): kept for reading.
		log, _ := os.CreateTemp("", "containers-act-*.log")
		log.WriteString(out)
		log.Close()
		t.Fatalf("act: %v (whole log: %s)\n%s", err, log.Name(), failedJobs(out))
	}
	rels := gh.Releases("acme/mod")
	if len(rels) != 1 {
		t.Fatalf("releases %+v\n%s", rels, testenv.Tail(out, 60))
	}
	assets := map[string][]byte{}
	for _, a := range rels[0].Assets {
		assets[a.Name] = a.Data
	}
	m, err := manifest.Parse("manifest.json", assets["manifest.json"])
	if err != nil {
		t.Fatal(err)
	}
	arch := runtime.GOARCH
	for d, versions := range cells {
		for _, v := range versions {
			if _, ok := assets[manifest.AssetName("ngx_http_hello_world_module", v, d, arch)]; !ok {
				t.Errorf("the release lacks the %s build for nginx %s", d, v)
			}
		}
	}
	// The image target: one cell, for its nginx's version only.
	var customs []string
	for _, e := range m.Entries {
		if e.Distro == "custom-1.26" {
			customs = append(customs, e.File)
		}
	}
	if want := manifest.AssetName("ngx_http_hello_world_module", "1.26.3", "custom-1.26", arch); len(customs) != 1 || customs[0] != want {
		t.Errorf("the image target's builds: %v, want [%s]", customs, want)
	}
	if t.Failed() {
		t.Fatalf("assets: %v", keys(assets))
	}
	// The cells really ran in the containers: each with its release's
	// own compiler (gcc 10, 12, 14), as the cell manifests record.
	gcc := map[string]string{"debian-11": "cc (Debian 10.", "debian-12": "cc (Debian 12.", "debian-13": "cc (Debian 14.", "custom-1.26": "cc (Debian 12."}
	for _, c := range m.Cells {
		if !strings.HasPrefix(c.Compiler, gcc[c.Distro]) {
			t.Errorf("the %s cell for nginx %s was compiled by %q, not its release's gcc", c.Distro, c.Nginx, c.Compiler)
		}
		if c.Distro == "custom-1.26" {
			// Built like its image's nginx: from nginx.org's tarball.
			if !strings.Contains(c.Verified, "signature by") && !strings.Contains(c.Verified, "pinned") {
				t.Errorf("the image target's cell: built from %q", c.Verified)
			}
			continue
		}
		// A packaged cell builds like the release's nginx: from
		// nginx-dev's tree where the release has one (12 and 13).
		dd, _ := distro.Lookup(c.Distro)
		fromTree := strings.HasPrefix(c.Verified, "Debian's nginx-dev "+dd.Packaged)
		if want := c.Nginx == dd.Packaged && c.Distro != "debian-11"; fromTree != want {
			t.Errorf("the %s cell for nginx %s: built from %q; from nginx-dev's tree: %v, want %v", c.Distro, c.Nginx, c.Verified, fromTree, want)
		}
	}
	pulls := gh.Pulls("acme/mod")
	if len(pulls) != 1 || pulls[0].Title != "Bump nginx from 1.22.1 to 1.26.3" {
		t.Errorf("pulls %+v", pulls)
	}

	installInImages(t, custom, assets)

	// Each Debian release's own nginx loads the build made for it and
	// answers through it; the build for another version it refuses.
	for d := range cells {
		dd, _ := distro.Lookup(d)
		dir := t.TempDir()
		var files []string
		for _, e := range m.Entries {
			if e.Distro == d && e.Nginx == dd.Packaged {
				name := manifest.AssetName(e.Module, e.Nginx, e.Distro, e.Arch)
				if err := os.WriteFile(filepath.Join(dir, name), assets[name], 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, name)
			}
		}
		other := manifest.AssetName("ngx_http_hello_world_module", "1.26.3", d, arch)
		if dd.Packaged == "1.26.3" {
			other = manifest.AssetName("ngx_http_hello_world_module", "1.22.1", d, arch)
		}
		os.WriteFile(filepath.Join(dir, other), assets[other], 0o644)

		testOut, got := testenv.LoadModules(t, dd.Image, dir, files, nil, `location = /hello { hello_world "Hello, world"; }`, "/hello")
		if !strings.Contains(testOut, "test is successful") || got["/hello"] != "200 Hello, world\n" {
			t.Errorf("%s's own nginx %s with %v: GET /hello = %q\n%s", d, dd.Packaged, files, got["/hello"], testOut)
		}
		testOut, _ = testenv.LoadModules(t, dd.Image, dir, []string{other}, nil, "")
		if !strings.Contains(testOut, "instead of") {
			t.Errorf("%s's own nginx %s did not refuse %s:\n%s", d, dd.Packaged, other, testOut)
		}
	}
}

// installInImages: install --from the release's files, inside the image
// target's image and inside debian:12 with Debian's nginx, picks the
// build made for each (the custom nginx's, though its os-release says
// debian-12 and a debian-12 build of 1.26.3 is there too), and nginx -t
// passes and a request through the module answers.
func installInImages(t *testing.T, custom string, assets map[string][]byte) {
	release := t.TempDir()
	for name, data := range assets {
		if err := os.WriteFile(filepath.Join(release, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, c := range []struct{ image, setup, nginx, conf, picked string }{
		{custom, "true", "/opt/nginx/sbin/nginx", "/opt/nginx/conf/conf.d/hello.conf", "ngx_http_hello_world_module_1.26.3_custom-1.26_"},
		{"debian:12", "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx >/dev/null", "/usr/sbin/nginx", "/etc/nginx/conf.d/hello.conf", "ngx_http_hello_world_module_1.22.1_debian-12_"},
	} {
		ct := testenv.StartContainer(t, c.image, testenv.Mount{Host: testenv.ToolBinary(t), Container: "/usr/local/bin/nginx-modbuild", ReadOnly: true},
			testenv.Mount{Host: release, Container: "/release", ReadOnly: true})
		ct.Shell(ctx, c.setup)
		out, err := ct.Exec(ctx, nil, "nginx-modbuild", "install", "--from", "/release", "--no-provenance", "--nginx-binary", c.nginx, "hello_world")
		if err != nil || !strings.Contains(out, c.picked) {
			t.Errorf("install in %s: %v; want %s*:\n%s", c.image, err, c.picked, testenv.Tail(out, 15))
			continue
		}
		answer := ct.Shell(ctx, "printf '%s\\n' 'server { listen 127.0.0.1:8096; location = /hello { hello_world \"installed here\"; } }' > "+c.conf+" && "+
			c.nginx+" -t 2>&1 && "+c.nginx+" && sleep 0.5 && (command -v curl >/dev/null || apt-get install -y -q --no-install-recommends curl >/dev/null) && curl -fsS http://127.0.0.1:8096/hello; "+c.nginx+" -s stop")
		if !strings.Contains(answer, "test is successful") || !strings.Contains(answer, "installed here") {
			t.Errorf("nginx in %s after install:\n%s", c.image, answer)
		}
	}
}

// removeActLeftovers removes the containers and volumes named with
// prefix (act's for one workflow).
func removeActLeftovers(t *testing.T, docker, prefix string) {
	out, _ := exec.Command(docker, "ps", "-aq", "--filter", "name="+prefix).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.Command(docker, append([]string{"rm", "-f"}, ids...)...).Run()
	}
	out, _ = exec.Command(docker, "volume", "ls", "-q", "--filter", "name="+prefix).Output()
	if names := strings.Fields(string(out)); len(names) > 0 {
		exec.Command(docker, append([]string{"volume", "rm", "-f"}, names...)...).Run()
	}
}

// failedJobs are the log lines of the jobs that failed.
func failedJobs(out string) string {
	failed := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Job failed") || strings.Contains(l, "❌") {
			if i := strings.Index(l, "["); i >= 0 {
				if j := strings.Index(l[i:], "]"); j > 0 {
					failed[l[i:i+j+1]] = true
				}
			}
		}
	}
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		for job := range failed {
			if strings.Contains(l, job) {
				b.WriteString(l + "\n")
			}
		}
	}
	return testenv.Tail(b.String(), 150)
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
