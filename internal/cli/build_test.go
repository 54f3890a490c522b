package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestBuildFailureAnnotates builds a module with a compile error in
// GitHub Actions mode: exit status 1, the error as an annotation on the
// module's file and line (relative to the repository), and the good module
// still built.
func TestBuildFailureAnnotates(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "cc", "gcc")
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	repo := t.TempDir()
	os.MkdirAll(filepath.Join(repo, "broken"), 0o755)
	os.WriteFile(filepath.Join(repo, "broken", "config"), []byte(`ngx_addon_name=ngx_http_broken_module
ngx_module_type=HTTP
ngx_module_name=ngx_http_broken_module
ngx_module_srcs="$ngx_addon_dir/broken.c"
. auto/module
`), 0o644)
	os.WriteFile(filepath.Join(repo, "broken", "broken.c"), []byte(`#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

ngx_module_t ngx_http_broken_module = { NGX_MODULE_V1, no_such_symbol };
`), 0o644)
	cfg := filepath.Join(repo, "nginx-modbuild.yml")
	os.WriteFile(cfg, []byte(`nginx:
  sha256: {1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31}
modules:
  - path: broken
  - path: `+filepath.Join(testenv.RepoRoot(), "examples", "hello-world")+`
`), 0o644)

	// A .so of the broken module from an earlier (good) build: removed,
	// not left to pass for this build's (issue 33 item 9).
	os.MkdirAll(filepath.Join(repo, "dist"), 0o755)
	stale := filepath.Join(repo, "dist", "ngx_http_broken_module_1.22.1.so")
	os.WriteFile(stale, []byte("an earlier build"), 0o644)

	h := newHarness(t)
	h.env["GITHUB_ACTIONS"] = "true"
	h.env["GITHUB_SERVER_URL"], h.env["GITHUB_RUN_ID"], h.env["GITHUB_REPOSITORY"] = "https://github.com", "42", "acme/mod"
	r := h.runIn(repo, "build", "--config", cfg, "--nginx", "1.22.1", "--mirror", mirror, "--smoke=false",
		"--distro", "debian-12", "--arch", "amd64", "--out", "dist", "--cache-dir", t.TempDir())
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %v\n%s", r.code, r.err, r.stderr)
	}
	// go-githubactions writes the properties sorted: col, file, line.
	if !regexp.MustCompile(`::error col=[0-9]+,file=broken/broken.c,line=5::`).MatchString(r.stdout) || !strings.Contains(r.stdout, "no_such_symbol") {
		t.Errorf("no annotation on broken/broken.c:5 in:\n%s", r.stdout)
	}
	if !strings.Contains(r.err.Error(), "ngx_http_broken_module (broken, compile): did not compile") {
		t.Errorf("error does not name the module: %v", r.err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) || !strings.Contains(r.stderr, "removed ngx_http_broken_module_1.22.1.so: left by an earlier build") {
		t.Errorf("the stale .so of the failed module: %v\n%s", err, testenv.Tail(r.stderr, 10))
	}
	if _, err := os.Stat(filepath.Join(repo, "dist", "ngx_http_hello_world_module_1.22.1.so")); err != nil {
		t.Errorf("the good module was not built: %v", err)
	}
	m, err := manifest.Read(filepath.Join(repo, "dist", manifest.CellFileName("1.22.1", "debian-12", "amd64")))
	if err != nil || len(m.Cells) != 1 || len(m.Cells[0].Failures) != 1 ||
		m.Cells[0].Failures[0].Log != "https://github.com/acme/mod/actions/runs/42" || m.Cells[0].Failures[0].Transient {
		t.Errorf("cell manifest failures: %v %+v", err, m)
	}
	if !strings.Contains(r.stderr, "::group::configure") {
		t.Errorf("no log groups in Actions mode:\n%s", r.stderr)
	}
}

// TestABIOf reads the nginx:abi line of abisubstvars as Debian 12's
// nginx-dev ships it (comments, then module versions after it).
func TestABIOf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "libnginx-mod.abisubstvars")
	os.WriteFile(p, []byte("# update the ABI version when:\n# - nginx upstream has changed\n#\nnginx:abi=nginx-abi-1.22.1-7\n\n# ABI-compatible versions of third-party modules\nlibnginx-mod-http-echo:Version=1:0.63-4\n"), 0o644)
	if got := abiOf(p); got != "nginx-abi-1.22.1-7" {
		t.Errorf("abiOf = %q", got)
	}
	if got := abiOf(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("no file: %q", got)
	}
}

// TestModuleOutsideRepository: a path: module outside the repository
// (../hello) builds, with a note saying what that costs (issue 33 item
// 9: it was accepted without a word). The empty mirror stops the cell
// early: the note comes before.
func TestModuleOutsideRepository(t *testing.T) {
	top := t.TempDir()
	repo, outside := filepath.Join(top, "repo"), filepath.Join(top, "hello")
	os.MkdirAll(repo, 0o755)
	os.MkdirAll(outside, 0o755)
	b, _ := os.ReadFile(filepath.Join(testenv.RepoRoot(), "examples", "hello-world", "config"))
	os.WriteFile(filepath.Join(outside, "config"), b, 0o644)
	os.WriteFile(filepath.Join(repo, "nginx-modbuild.yml"), []byte("modules: [{path: ../hello}]\n"), 0o644)
	h := newHarness(t)
	r := h.runIn(repo, "build", "--config", "nginx-modbuild.yml", "--nginx", "1.26.3", "--mirror", t.TempDir(), "--smoke=false", "--out", t.TempDir(), "--cache-dir", t.TempDir())
	if !strings.Contains(r.stderr, "note: module ../hello is outside the repository") {
		t.Errorf("exit %d, no note:\n%s", r.code, testenv.Tail(r.stderr, 10))
	}
	inside := h.runIn(filepath.Join(testenv.RepoRoot(), "examples", "hello-world"), "build", "--nginx", "1.26.3", "--mirror", t.TempDir(), "--smoke=false", "--out", t.TempDir(), "--cache-dir", t.TempDir())
	if strings.Contains(inside.stderr, "outside the repository") {
		t.Errorf("a module inside noted as outside:\n%s", inside.stderr)
	}
}
