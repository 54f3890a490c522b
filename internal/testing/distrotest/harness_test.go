// Package distrotest proves build cells where they really run: in bare
// Debian containers (debian:11, debian:12, debian:13, made by
// scripts/images with debootstrap --variant=minbase, nothing added), with
// each release's own module sources, its own package index and its own
// nginx package as the judge. It holds tests only.
package distrotest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// The tarball checksums nginx-modbuild verifies the mirror's nginx
// sources by (Debian's archive serves them without .asc).
const pinnedSHA256 = `    1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31
    1.26.3: 69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa
`

// module is one module source of a release's corpus, as its config
// entry declares it.
type module struct {
	name     string // directory under /src
	env      map[string]string
	libs     []string
	packages []string // apt
}

// extract unpacks a tarball (gz or xz) into dir with the host's tar.
func extract(t *testing.T, tarball, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", tarball, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf %s: %v\n%s", tarball, err, out)
	}
}

// placeUpstream puts the upstream corpus's modules (testenv.Upstream)
// into src, each under its directory name: dirs maps name to corpus name.
func placeUpstream(t *testing.T, src string, dirs map[string]string) {
	t.Helper()
	for name, up := range dirs {
		if err := os.Rename(testenv.Upstream(t, up), filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// configDir is the directory under root holding an nginx module config
// (the orig tarballs put it one level down).
func configDir(t *testing.T, root string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "config")); err == nil {
		return root
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(root, e.Name(), "config")); err == nil {
				return filepath.Join(root, e.Name())
			}
		}
	}
	t.Fatalf("no module config under %s", root)
	return ""
}

// writeConfig writes the tool's config for mods under /src, with the
// smoke snippet.
func writeConfig(t *testing.T, path string, mods []module, smokeConf, smokeRequest, configure string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("nginx:\n  sha256:\n" + pinnedSHA256 + "modules:\n")
	for _, m := range mods {
		b.WriteString("  - path: /src/" + m.name + "\n")
		if len(m.env) > 0 {
			var kv []string
			for k, v := range m.env {
				kv = append(kv, k+": "+v)
			}
			sort.Strings(kv)
			b.WriteString("    env: {" + strings.Join(kv, ", ") + "}\n")
		}
		if len(m.libs) > 0 {
			b.WriteString("    libs: [" + strings.Join(m.libs, ", ") + "]\n")
		}
		if len(m.packages) > 0 {
			b.WriteString("    packages: {apt: [" + strings.Join(m.packages, ", ") + "]}\n")
		}
	}
	if configure != "" {
		b.WriteString("configure: [" + configure + "]\n")
	}
	b.WriteString("smoke:\n  config: |\n")
	for _, l := range strings.Split(strings.TrimSpace(smokeConf), "\n") {
		b.WriteString("    " + l + "\n")
	}
	b.WriteString("  request: " + smokeRequest + "\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cellManifest reads the one cell manifest the build wrote into dist.
func cellManifest(t *testing.T, dist string) manifest.Manifest {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dist, "manifest-*.json"))
	if len(files) != 1 {
		t.Fatalf("cell manifests in %s: %v, want one", dist, files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", files[0], err)
	}
	return m
}

// builtNames are the modules of the .so files a cell built, sorted.
func builtNames(m manifest.Manifest) []string {
	var out []string
	for _, e := range m.Entries {
		out = append(out, e.Module)
	}
	sort.Strings(out)
	return out
}

// toolContainer starts a bare container of image with the tool at
// /usr/local/bin, the source mirror at /mirror, the module sources at
// /src and the work directory at /work.
func toolContainer(t *testing.T, image, mirror, src, work string) *testenv.Container {
	t.Helper()
	return testenv.StartContainer(t, image,
		testenv.Mount{Host: testenv.ToolBinary(t), Container: "/usr/local/bin/nginx-modbuild", ReadOnly: true},
		testenv.Mount{Host: mirror, Container: "/mirror", ReadOnly: true},
		testenv.Mount{Host: src, Container: "/src"},
		testenv.Mount{Host: work, Container: "/work"})
}

// build runs nginx-modbuild build in the container as a cell job does:
// /work/<config>, the mirror, --install-deps, the cache in /work/cache,
// output in /work/<out>.
func build(c *testenv.Container, config, nginx, distro, out string, extra ...string) (string, error) {
	args := append([]string{"nginx-modbuild", "build", "--config", "/work/" + config, "--nginx", nginx, "--distro", distro,
		"--mirror", "/mirror", "--out", "/work/" + out, "--install-deps", "--cache-dir", "/work/cache"}, extra...)
	return c.Exec(context.Background(), nil, args...)
}

// loadInto loads the manifest's files, in its order, into the release's
// own nginx in a fresh container (testenv.LoadModules), after the
// distro's own .so of each nginx module they need (nginx_modules:
// Debian's libnginx-mod-stream installed for ngx_stream_module).
func loadInto(t *testing.T, image, dist string, m manifest.Manifest, runtime []string, conf string, paths ...string) (string, map[string]string) {
	t.Helper()
	var own, files []string
	runtime = slices.Clone(runtime)
	for _, e := range m.Entries {
		if e.Kind != "" {
			continue
		}
		for _, n := range e.NginxModules {
			if !slices.Contains(own, "/usr/lib/nginx/modules/"+n+".so") {
				own = append(own, "/usr/lib/nginx/modules/"+n+".so")
				runtime = append(runtime, manifest.DistroPackage(true, n))
			}
		}
		files = append(files, e.File)
	}
	return testenv.LoadModules(t, image, dist, append(own, files...), runtime, conf, paths...)
}

// aptInstallPublished publishes dist signed (release --dir
// --repositories with a fresh key), serves it on loopback for the rest of
// the test and, in a fresh container of image set up as the README says
// for suite, apt-installs pkgs. It returns the container and apt's
// output and error: the caller judges them.
func aptInstallPublished(t *testing.T, image, suite, dist string, pkgs ...string) (*testenv.Container, string, error) {
	t.Helper()
	return aptInstallServed(t, image, suite, publishSigned(t, dist), pkgs...)
}

// aptInstallServed is aptInstallPublished of a directory published
// already (publishSigned).
func aptInstallServed(t *testing.T, image, suite, pub string, pkgs ...string) (*testenv.Container, string, error) {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	h := testenv.StartContainer(t, image)
	h.Shell(ctx, setupLines(srv.URL, suite, true)+"\napt-get update -q >/dev/null")
	out, err := h.Exec(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, "sh", "-c", "apt-get install -y -q "+strings.Join(pkgs, " ")+" 2>&1")
	return h, out, err
}

// publishSigned is dist released into a new directory as the pages job
// publishes it (release --dir --repositories, signed with a fresh key):
// the release's files (manifest.json, SHA256SUMS, the .so and packages)
// and the signed repositories.
func publishSigned(t *testing.T, dist string) string {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(keyFile, signingKey(t), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "pub")
	runTool(t, "release", "--dir", pub, "--dist", dist, "--repositories", "--signing-key", keyFile)
	return pub
}
