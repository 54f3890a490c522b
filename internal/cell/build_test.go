package cell

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// realModule extracts a Debian-packaged module's orig tarball.
func realModule(t *testing.T, mirror, tarball string) Module {
	t.Helper()
	return Module{ID: tarball, Dir: celltest.Module(t, mirror, tarball)}
}

func helloWorld() Module {
	return Module{ID: "examples/hello-world", Dir: filepath.Join(testenv.RepoRoot(), "examples", "hello-world")}
}

func prerequisites(t *testing.T) (mirror string) {
	t.Helper()
	return celltest.Prerequisites(t)
}

func options(t *testing.T, mirror, nginx string, mods ...Module) Options {
	t.Helper()
	return Options{
		Nginx: nginx, Distro: "debian-12", Arch: runtime.GOARCH, Modules: mods, Family: distro.Apt,
		Source:  celltest.Source(t, mirror),
		WorkDir: t.TempDir(), Out: t.TempDir(), Jobs: runtime.NumCPU(),
		Log: &Log{W: testWriter{t}}, Compiler: celltest.Compiler(t),
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func names(files []string) []string {
	var out []string
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	sort.Strings(out)
	return out
}

// TestOldStyleModuleBuildsAndWorks builds subs-filter, whose config is
// old-style (nginx alone would build no .so for it), with the PCRE1 API it
// needs, and proves the converted module works in the smoke test.
func TestOldStyleModuleBuildsAndWorks(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	o := options(t, mirror, "1.22.1", helloWorld(), realModule(t, mirror, "libnginx-mod-http-subs-filter_0.6.4.orig.tar.gz"))
	o.Configure = []string{"--without-pcre2"}
	o.Smoke = &Smoke{
		Config:  "location = /subs { subs_filter_types text/plain; subs_filter world there; hello_world \"Hello, world\"; }",
		Request: "/subs",
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(res.Files), " "); got != "ngx_http_hello_world_module_1.22.1.so ngx_http_subs_filter_module_1.22.1.so" {
		t.Errorf("built %s", got)
	}
	// The manifest's signature is the one compiled into each module, and
	// --with-compat's bit is set in it.
	for _, e := range res.Manifest.Entries {
		sig, err := modinfo.ParseSignature(e.Signature)
		if err != nil || !sig.Compat() || !strings.HasPrefix(e.Signature, "8,4,8,") {
			t.Errorf("%s: signature %q (%v)", e.File, e.Signature, err)
		}
	}
	if c := res.Manifest.Cells[0].Compiler; c == "" || c != o.Compiler.Version {
		t.Errorf("compiler = %q", c)
	}
	// The manifest is published: no path of this machine in it, and each
	// module named by its config entry.
	written, err := os.ReadFile(filepath.Join(o.Out, manifest.CellFileName("1.22.1", "debian-12", runtime.GOARCH)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{o.WorkDir, filepath.Dir(o.Modules[1].Dir), "--builddir"} {
		if strings.Contains(string(written), p) {
			t.Errorf("the cell manifest holds %s:\n%s", p, written)
		}
	}
	if !strings.Contains(string(written), `"--add-dynamic-module=examples/hello-world"`) {
		t.Errorf("the cell manifest does not name hello-world by its entry:\n%s", written)
	}
}

// TestFetchFailureIsRecorded is issue 12's partial results: a cell whose
// nginx sources cannot be downloaded still writes its manifest, with every
// module failed in the fetch phase and marked transient.
func TestFetchFailureIsRecorded(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	o := options(t, mirror, "1.24.0", Module{ID: ".", Dir: filepath.Join(testenv.RepoRoot(), "examples", "hello-world"), Identity: "tree:abc"})
	_, err := Run(context.Background(), o)
	if err == nil {
		t.Fatal("no error for a version the mirror does not have")
	}
	m, rerr := manifest.Read(filepath.Join(o.Out, manifest.CellFileName("1.24.0", "debian-12", runtime.GOARCH)))
	if rerr != nil {
		t.Fatalf("no cell manifest: %v", rerr)
	}
	if len(m.Cells) != 1 || len(m.Cells[0].Failures) != 1 {
		t.Fatalf("cells %+v", m.Cells)
	}
	f := m.Cells[0].Failures[0]
	if f.Phase != "fetch" || !f.Transient || f.Source != "." || f.Identity != "tree:abc" || !strings.Contains(f.Error, "1.24.0") {
		t.Errorf("failure %+v", f)
	}
}

// TestNoReleaseModuleIsNotWritten is issue 33 item 9's release: false:
// a module built for a suite's sake (echo, for headers-more's tests) is
// built and checked with the others but not written, so it is neither
// released nor packaged; the log says why.
func TestNoReleaseModuleIsNotWritten(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	echo := realModule(t, mirror, "libnginx-mod-http-echo_0.63.orig.tar.gz")
	echo.NoRelease = true
	o := options(t, mirror, "1.22.1", helloWorld(), echo)
	var log strings.Builder
	o.Log = &Log{W: &log}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, testenv.Tail(log.String(), 30))
	}
	if got := strings.Join(names(res.Files), " "); got != "ngx_http_hello_world_module_1.22.1.so" {
		t.Errorf("written: %s", got)
	}
	if len(res.Manifest.Entries) != 1 || res.Manifest.Entries[0].Module != "ngx_http_hello_world_module" {
		t.Errorf("entries: %+v", res.Manifest.Entries)
	}
	if !strings.Contains(log.String(), "ngx_http_echo_module: built for the checks and tests only (release: false), not written") {
		t.Errorf("the log does not say echo is not written:\n%s", testenv.Tail(log.String(), 20))
	}
}

// TestVerificationFailureIsNotTransient is issue 33 item 7's last point:
// a tarball that is not the pinned one fails the cell in fetch, but not
// as transient (no retry changes the bytes), unlike a download that
// failed (TestFetchFailureIsRecorded).
func TestVerificationFailureIsNotTransient(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	o := options(t, mirror, "1.22.1", helloWorld())
	o.Source.SHA256 = map[string]string{"1.22.1": strings.Repeat("0", 64)}
	_, err := Run(context.Background(), o)
	if err == nil || !errors.Is(err, source.ErrMismatch) {
		t.Fatalf("err = %v, want a mismatch", err)
	}
	m, rerr := manifest.Read(filepath.Join(o.Out, manifest.CellFileName("1.22.1", "debian-12", runtime.GOARCH)))
	if rerr != nil || len(m.Cells[0].Failures) != 1 {
		t.Fatalf("cell manifest: %v %+v", rerr, m)
	}
	if f := m.Cells[0].Failures[0]; f.Phase != "fetch" || f.Transient || !strings.Contains(f.Error, "serves a different file") {
		t.Errorf("failure %+v", f)
	}
}
