package preflight_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/nginxconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/preflight"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// cell is one build by the build engine.
type agreeCell struct {
	nginx    string
	noCompat bool
	mods     []string // module directories
	files    []string // built .so files
}

// buildCells builds every cell in parallel.
func buildCells(t *testing.T, mirror string, cells map[string]*agreeCell) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(cells))
	for name, c := range cells {
		o := cell.Options{
			Nginx: c.nginx, NoCompat: c.noCompat, Distro: "debian-12", Arch: runtime.GOARCH,
			Source:  celltest.Source(t, mirror),
			WorkDir: t.TempDir(), Out: t.TempDir(), Jobs: runtime.NumCPU(),
			Log: &cell.Log{W: &bytes.Buffer{}}, Compiler: celltest.Compiler(t),
		}
		for _, d := range c.mods {
			o.Modules = append(o.Modules, cell.Module{ID: filepath.Base(d), Dir: d})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := cell.Run(context.Background(), o)
			if err != nil {
				errs <- err
				return
			}
			c.files = res.Files
			if name == "1.18.0" && !strings.Contains(res.Manifest.Cells[0].Verified, "signature by Maxim Dounin") {
				t.Errorf("1.18.0 verified as %q", res.Manifest.Cells[0].Verified)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

var emerg = regexp.MustCompile(`\[emerg\] (?:\d+#\d+: )?(.*)`)

// nginxT runs Debian's nginx -t on the configuration in dir and returns its
// [emerg] message, "" when the test passes.
func nginxT(t *testing.T, bin, dir string) string {
	t.Helper()
	cmd := exec.Command(bin, "-t", "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"),
		"-g", "pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	out, err := cmd.CombinedOutput()
	m := emerg.FindSubmatch(out)
	switch {
	case err == nil && m == nil:
		return ""
	case err != nil && m != nil:
		return string(m[1])
	}
	t.Fatalf("nginx -t: %v\n%s", err, out)
	return ""
}

func writeConf(t *testing.T, dir string, loads []string) {
	t.Helper()
	var b strings.Builder
	for _, l := range loads {
		b.WriteString("load_module " + l + ";\n")
	}
	b.WriteString("events {}\n")
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckAgreesWithNginx is the acceptance test for check: for modules
// built by the build engine (nginx 1.18.0, 1.22.1 with and without
// --with-compat, 1.26.3) and Debian's packaged modules (bullseye, bookworm,
// trixie; amd64, arm64, i386), the prediction from the files alone is
// exactly what Debian's nginx -t says: the same first [emerg] line, or a
// pass.
func TestCheckAgreesWithNginx(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	testenv.Tool(t, "make", "make")
	bin := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	mirror := testenv.Mirror(t, "nginx-1.18.0.tar.gz.asc")
	testenv.Mirror(t, "debs/bookworm-i386/nginx/VERSION")
	debs := filepath.Join(mirror, "debs")
	deb := func(suite, pkg, so string) string {
		p := filepath.Join(debs, suite, pkg, "usr/lib/nginx/modules", so)
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, p, "run scripts/debs "+mirror)
		}
		return p
	}
	hello := filepath.Join(testenv.RepoRoot(), "examples", "hello-world")
	twin, _ := filepath.Abs("testdata/twin")
	cells := map[string]*agreeCell{
		"1.18.0":          {nginx: "1.18.0", mods: []string{hello}},
		"1.22.1":          {nginx: "1.22.1", mods: []string{hello, twin}},
		"1.22.1-nocompat": {nginx: "1.22.1", noCompat: true, mods: []string{hello}},
		"1.26.3":          {nginx: "1.26.3", mods: []string{hello}},
	}
	buildCells(t, mirror, cells)
	built := func(cell, name string) string {
		for _, f := range cells[cell].files {
			if strings.HasPrefix(filepath.Base(f), name+"_") {
				return f
			}
		}
		t.Fatalf("cell %s built no %s: %v", cell, name, cells[cell].files)
		return ""
	}

	work := t.TempDir()
	notELF := filepath.Join(work, "notes.so")
	os.WriteFile(notELF, []byte(strings.Repeat("not a shared object\n", 10)), 0o644)
	tiny := filepath.Join(work, "tiny.so")
	os.WriteFile(tiny, []byte("\x7fELF"), 0o644)
	plainLib := filepath.Join(work, "libplain.so")
	os.WriteFile(filepath.Join(work, "plain.c"), []byte("int plain_value = 42;\n"), 0o644)
	if out, err := exec.Command("cc", "-shared", "-fPIC", "-o", plainLib, filepath.Join(work, "plain.c")).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	echo := deb("bookworm-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so")
	ndk := deb("bookworm-amd64", "libnginx-mod-http-ndk", "ndk_http_module.so")
	setMisc := deb("bookworm-amd64", "libnginx-mod-http-set-misc", "ngx_http_set_misc_module.so")

	cases := []struct {
		name   string
		loads  []string
		status preflight.Status // of the first module that fails, or OK
	}{
		{"built 1.22.1", []string{built("1.22.1", "ngx_http_hello_world_module"), built("1.22.1", "ngx_http_twin_a_module")}, preflight.OK},
		{"built 1.26.3", []string{built("1.26.3", "ngx_http_hello_world_module")}, preflight.VersionMismatch},
		{"built 1.18.0", []string{built("1.18.0", "ngx_http_hello_world_module")}, preflight.VersionMismatch},
		{"built 1.22.1 without compat", []string{built("1.22.1-nocompat", "ngx_http_hello_world_module")}, preflight.Incompatible},
		{"debian bookworm echo", []string{echo}, preflight.OK},
		{"debian trixie echo", []string{deb("trixie-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so")}, preflight.VersionMismatch},
		{"debian bullseye echo", []string{deb("bullseye-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so")}, preflight.VersionMismatch},
		{"debian bookworm stream", []string{deb("bookworm-amd64", "libnginx-mod-stream", "ngx_stream_module.so")}, preflight.OK},
		// 1.26.3's stream module calls ngx_proxy_protocol_get_tlv, which
		// 1.22.1 lacks: dlopen fails before nginx can compare versions.
		{"debian trixie stream", []string{deb("trixie-amd64", "libnginx-mod-stream", "ngx_stream_module.so")}, preflight.Unresolved},
		{"set-misc before ndk", []string{setMisc, ndk}, preflight.Unresolved},
		{"ndk then set-misc", []string{ndk, setMisc}, preflight.OK},
		{"echo twice", []string{echo, echo}, preflight.AlreadyLoaded},
		{"i386 echo", []string{deb("bookworm-i386", "libnginx-mod-http-echo", "ngx_http_echo_module.so")}, preflight.WrongArch},
		{"arm64 echo", []string{deb("bookworm-arm64", "libnginx-mod-http-echo", "ngx_http_echo_module.so")}, preflight.WrongArch},
		{"missing file", []string{filepath.Join(work, "absent.so")}, preflight.Missing},
		{"text file", []string{notELF}, preflight.NotModule},
		{"truncated file", []string{tiny}, preflight.NotModule},
		{"plain shared library", []string{plainLib}, preflight.NotModule},
		{"an executable", []string{bin}, preflight.NotModule},
		{"relative to the prefix", []string{"modules/ngx_http_echo_module.so"}, preflight.OK},
	}
	f, err := modinfo.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "modules"), 0o755)
			os.Symlink(echo, filepath.Join(dir, "modules", "ngx_http_echo_module.so"))
			writeConf(t, dir, tc.loads)
			got := nginxT(t, bin, dir)

			target, err := preflight.FromBinary(bin, f)
			if err != nil {
				t.Fatal(err)
			}
			target.Prefix = dir
			loads, err := nginxconf.LoadModules(context.Background(), filepath.Join(dir, "nginx.conf"))
			if err != nil {
				t.Fatal(err)
			}
			rep := preflight.Check(target, loads, modinfo.Open)
			predicted, status := "", preflight.OK
			for _, r := range rep.Results {
				if r.Status != preflight.OK {
					predicted, status = r.Nginx, r.Status
					break
				}
			}
			if predicted != got || status != tc.status {
				t.Errorf("check predicted %s %q\nnginx -t said     %q (want status %s)", status, predicted, got, tc.status)
			}
		})
	}

	// The details beyond nginx's words.
	dir := t.TempDir()
	writeConf(t, dir, []string{built("1.22.1-nocompat", "ngx_http_hello_world_module")})
	loads, _ := nginxconf.LoadModules(context.Background(), filepath.Join(dir, "nginx.conf"))
	target, _ := preflight.FromBinary(bin, f)
	r := preflight.Check(target, loads, modinfo.Open).Results[0]
	var names []string
	for _, d := range r.Differences {
		names = append(names, d.String())
	}
	if !strings.Contains(strings.Join(names, "; "), "bit 34 NGX_COMPAT (--with-compat): module off, nginx on") {
		t.Errorf("differences of the no-compat build: %v", names)
	}
	twinFile, err := modinfo.Open(built("1.22.1", "ngx_http_twin_a_module"))
	if err != nil {
		t.Fatal(err)
	}
	if len(twinFile.Modules) != 2 || twinFile.Modules[0].Name != "ngx_http_twin_a_module" || twinFile.Modules[1].Name != "ngx_http_twin_b_module" {
		t.Errorf("twin .so modules = %+v", twinFile.Modules)
	}

	// A target given by version only agrees on version and compat.
	byVersion, err := preflight.FromVersion("1.22.1", "--target 1.22.1", "")
	if err != nil {
		t.Fatal(err)
	}
	for cellName, want := range map[string]preflight.Status{
		"1.22.1": preflight.OK, "1.26.3": preflight.VersionMismatch,
		"1.18.0": preflight.VersionMismatch, "1.22.1-nocompat": preflight.Incompatible,
	} {
		loads := []nginxconf.LoadModule{{Path: built(cellName, "ngx_http_hello_world_module"), File: "x.conf", Line: 1}}
		if got := preflight.Check(byVersion, loads, modinfo.Open).Results[0].Status; got != want {
			t.Errorf("--target 1.22.1, cell %s: %s, want %s", cellName, got, want)
		}
	}
}
