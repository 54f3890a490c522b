package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// Issue 15's probes, each a regression test: names from flags, configs
// and manifests never become paths outside their directory.

// TestBuildRefusesDistroPath: --distro "x/../../../tmp/ESCAPE" wrote the
// cell manifest outside --out.
func TestBuildRefusesDistroPath(t *testing.T) {
	h := newHarness(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "a", "b", "out")
	for _, flag := range []string{"--distro", "--arch"} {
		r := h.run("build", "--nginx", "1.26.3", flag, "x/../../../ESCAPE", "--out", out, "--smoke=false")
		if r.code != 2 || !strings.Contains(r.err.Error(), flag+` "x/../../../ESCAPE": a name must be`) {
			t.Errorf("%s: exit %d, %v", flag, r.code, r.err)
		}
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("build wrote %v beside the output directory", entries)
	}
}

// TestReleaseRefusesManifestPath: a cell manifest whose entry names
// ../../etc/hostname got that file uploaded as an asset.
func TestReleaseRefusesManifestPath(t *testing.T) {
	h := newHarness(t)
	h.releaseRepo()
	dist := filepath.Join(t.TempDir(), "dist")
	writeCell(t, dist, ".", "ngx_http_hello_world_module", "1.31.4", []byte("\x7fELF hello"))
	secret := filepath.Join(filepath.Dir(dist), "secret")
	os.WriteFile(secret, []byte("not for upload"), 0o644)
	mpath := filepath.Join(dist, manifest.CellFileName("1.31.4", "debian-12", "amd64"))
	m, err := manifest.Read(mpath)
	if err != nil {
		t.Fatal(err)
	}
	m.Entries[0].File = "../secret"
	os.WriteFile(mpath, m.Encode(), 0o644)

	r := h.run("release", "--tag", "v1", "--create", "--dist", dist)
	if r.code == 0 || !strings.Contains(r.err.Error(), `file "../secret": a name must be`) || !strings.Contains(r.err.Error(), "refused") {
		t.Errorf("exit %d: %v", r.code, r.err)
	}
	for _, rel := range h.gh.Releases("acme/mod") {
		if len(rel.Assets) > 0 {
			t.Errorf("release %s got assets %v", rel.Tag, rel.Assets)
		}
	}
}

// TestTagsAreNotFlags: a tag that reads as a flag or a path is a usage
// error, never usage text and success.
func TestTagsAreNotFlags(t *testing.T) {
	h := newHarness(t)
	h.env["GITHUB_REPOSITORY"] = "acme/mod"
	for _, tag := range []string{"--help", "../x", "v1..v2", "-x"} {
		r := h.run("release", "--tag="+tag, "--dist", t.TempDir())
		if r.code != 2 || !strings.Contains(r.err.Error(), "not a release tag") {
			t.Errorf("--tag=%s: exit %d, %v", tag, r.code, r.err)
		}
	}
}

// TestHostileFilesEndPromptly: inspect of a FIFO blocked forever, and a
// 200 GB sparse --config ran the tool out of memory.
func TestHostileFilesEndPromptly(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "module.so")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "config.yml")
	f, _ := os.Create(sparse)
	f.Truncate(200 << 30)
	f.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r := h.run("inspect", fifo); r.code != 1 || !strings.Contains(r.stderr+r.stdout+errText(r.err), "not a regular file (a FIFO)") {
			t.Errorf("inspect FIFO: exit %d, %v\n%s%s", r.code, r.err, r.stdout, r.stderr)
		}
		if r := h.run("plan", "--config", sparse); r.code != 2 || !strings.Contains(errText(r.err), "over the 1048576-byte limit") {
			t.Errorf("sparse config: exit %d, %v", r.code, r.err)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("still running after 60 s")
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
