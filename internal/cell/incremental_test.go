package cell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// headersMoreChange is a one-line behaviour change in headers-more 0.34:
// a header it adds gets its name as its value.
var headersMoreChange = [3]string{"src/ngx_http_headers_more_headers_out.c",
	"    h->key = hv->key;\n    h->value = *value;\n\n    h->lowcase_key",
	"    h->key = hv->key;\n    h->value = hv->key;\n\n    h->lowcase_key"}

// editFile replaces from with to in dir/file, once; the file must have it.
func editFile(t *testing.T, dir, file, from, to string) {
	t.Helper()
	p := filepath.Join(dir, file)
	data, err := os.ReadFile(p)
	if err != nil || !bytes.Contains(data, []byte(from)) {
		t.Fatalf("%s: %v, or it lacks %q", file, err, from)
	}
	if err := os.WriteFile(p, bytes.Replace(data, []byte(from), []byte(to), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIncrementalCell is issue 25's incremental cells: echo and
// headers-more (Debian's sources) with headers-more's sanity.t. A second
// check with nothing changed skips configure; a one-line change in a .c
// file is rebuilt warm and its .so behaves as a cold build's with the
// same change (the same tests pass and fail); a change that does not
// compile leaves no .so of the last build behind; a change to the
// module's config builds from clean.
func TestIncrementalCell(t *testing.T) {
	mirror := prerequisites(t)
	lib := testenv.TestNginx(t)
	testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	root := t.TempDir()
	echo := filepath.Join(root, "echo")
	hm := filepath.Join(root, "headers-more")
	testenv.CopyTree(t, celltest.Module(t, mirror, "libnginx-mod-http-echo_0.63.orig.tar.gz"), echo, nil)
	testenv.CopyTree(t, celltest.Module(t, mirror, "libnginx-mod-http-headers-more-filter_0.34.orig.tar.gz"), hm, nil)
	mods := []Module{{ID: "echo", Dir: echo}, {ID: "headers-more", Dir: hm, Test: &config.Test{Prove: "t/sanity.t", Required: true}}}
	src := celltest.Source(t, mirror)
	cells := t.TempDir()
	cell := func(incremental string) (Result, string) {
		t.Helper()
		var log bytes.Buffer
		res, _ := Run(context.Background(), Options{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Modules: mods, Source: src,
			WorkDir: t.TempDir(), Out: t.TempDir(), Jobs: 2, Compiler: celltest.Compiler(t), Smoke: &Smoke{},
			Tests: &Tests{PerlLib: []string{lib}, Env: os.Environ()}, Incremental: incremental, PackageState: func() string { return "test" }, Log: &Log{W: &log}})
		if len(res.Manifest.Cells) == 1 {
			sec := res.Manifest.Cells[0].Seconds
			t.Logf("cell (incremental %v): configure %.1f s, make %.1f s, test %.1f s", incremental != "", sec["configure"], sec["make"], sec["test"])
		}
		return res, log.String()
	}
	tests := func(res Result) manifest.Tests {
		t.Helper()
		if len(res.Manifest.Cells) != 1 || len(res.Manifest.Cells[0].Tests) != 1 {
			t.Fatalf("no test result: %+v", res.Manifest)
		}
		return res.Manifest.Cells[0].Tests[0]
	}

	res, log := cell(cells)
	if !strings.Contains(log, "incremental: no kept tree") || !tests(res).OK() {
		t.Fatalf("the first check:\n%s", log)
	}
	res, log = cell(cells)
	if !strings.Contains(log, "configure skipped") || strings.Contains(log, "==> configure") || !tests(res).OK() || tests(res).Passed != 226 {
		t.Fatalf("the unchanged check was not warm, or its tests differ:\n%s", log)
	}

	// The one-line change: warm, and as a cold build with it.
	editFile(t, hm, headersMoreChange[0], headersMoreChange[1], headersMoreChange[2])
	warm, log := cell(cells)
	if !strings.Contains(log, "configure skipped") {
		t.Fatalf("a .c change was not rebuilt warm:\n%s", log)
	}
	cold, _ := cell("")
	w, c := tests(warm), tests(cold)
	if w.OK() || w.Passed != c.Passed || w.Failed != c.Failed || w.Ran != c.Ran || failedNumbers(w) != failedNumbers(c) {
		t.Errorf("warm %d passed %d failed, cold %d passed %d failed; failed tests warm:\n%s\ncold:\n%s", w.Passed, w.Failed, c.Passed, c.Failed, failedNumbers(w), failedNumbers(c))
	}
	t.Logf("the change: warm and cold both %d passed, %d failed", w.Passed, w.Failed)

	// A change that does not compile: no .so of the last build.
	editFile(t, hm, headersMoreChange[0], headersMoreChange[2], "    h->key = hv->key;\n    h->value = no_such_symbol;\n\n    h->lowcase_key")
	res, log = cell(cells)
	for _, f := range res.Files {
		if strings.Contains(f, "headers_more") {
			t.Errorf("a module that does not compile left %s:\n%s", f, log)
		}
	}
	if c := res.Manifest.Cells[0]; len(c.Failures) != 1 || c.Failures[0].Phase != manifest.PhaseCompile || len(c.Tests) != 1 ||
		c.Tests[0].Error != "not run: the module failed in phase compile" {
		t.Errorf("failures %+v, tests %+v", c.Failures, c.Tests)
	}
	editFile(t, hm, headersMoreChange[0], "h->value = no_such_symbol;", "h->value = *value;")

	// The module's config changed: from clean.
	cfg := filepath.Join(hm, "config")
	data := mustReadFile(t, cfg)
	os.WriteFile(cfg, append(data, []byte("\n# a comment configure reads all the same\n")...), 0o644)
	res, log = cell(cells)
	if !strings.Contains(log, "incremental: no kept tree") || !strings.Contains(log, "==> configure") || !tests(res).OK() {
		t.Errorf("a config change did not build from clean, or its tests fail:\n%s", log)
	}
}

// failedNumbers lists a suite's failed tests by block and check, sorted
// (Test::Nginx shuffles its blocks: TAP numbers differ from run to run).
func failedNumbers(s manifest.Tests) string {
	var out []string
	for _, f := range s.Files {
		for _, x := range f.Failures {
			out = append(out, fmt.Sprintf("%s:%d %s", f.File, x.Line, x.Desc))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEveryModuleFailsConfigure: a cell whose every module fails in
// configure, with the smoke cache and incremental cells on, reports the
// failure (and keeps no tree) instead of crashing.
func TestEveryModuleFailsConfigure(t *testing.T) {
	mirror := prerequisites(t)
	testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config"), []byte("echo 'this module needs something it does not find' >&2\nexit 1\n"), 0o644)
	cells := t.TempDir()
	res, err := Run(context.Background(), Options{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64",
		Modules: []Module{{ID: "broken", Dir: dir}}, Source: celltest.Source(t, mirror), WorkDir: t.TempDir(), Out: t.TempDir(), Jobs: 2,
		Compiler: celltest.Compiler(t), Smoke: &Smoke{}, SmokeCache: t.TempDir(), Incremental: cells, Log: &Log{W: testWriter{t}}})
	var mf *ModulesFailed
	if !errors.As(err, &mf) || len(mf.Failures) != 1 || mf.Failures[0].Phase != manifest.PhaseConfigure || len(res.Files) != 0 {
		t.Fatalf("err %v, files %v", err, res.Files)
	}
	kept, _ := filepath.Glob(filepath.Join(cells, "*", keptStateFile))
	if len(kept) != 0 {
		t.Errorf("a tree whose configure dropped its module was kept: %v", kept)
	}
}

// TestWarmCellKeepsCachedSmokeNginx: a kept tree whose smoke nginx came
// from the smoke cache (the binary without nginx's objects) is warm
// without compiling nginx again: make builds the modules only.
func TestWarmCellKeepsCachedSmokeNginx(t *testing.T) {
	mirror := prerequisites(t)
	testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	src := celltest.Source(t, mirror)
	smoke := t.TempDir()
	cell := func(cells string) string {
		t.Helper()
		var log bytes.Buffer
		res, err := Run(context.Background(), Options{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Modules: []Module{helloWorld()},
			Source: src, WorkDir: t.TempDir(), Out: t.TempDir(), Jobs: 2, Compiler: celltest.Compiler(t), Smoke: &Smoke{},
			SmokeCache: smoke, Incremental: cells, Log: &Log{W: &log}})
		if err != nil || len(res.Files) != 1 || !strings.Contains(log.String(), "nginx -t: 1 .so file(s) load") {
			t.Fatalf("%v %v\n%s", err, res.Files, log.String())
		}
		return log.String()
	}
	cell(t.TempDir()) // fills the smoke cache
	cells := t.TempDir()
	if log := cell(cells); !strings.Contains(log, "smoke nginx: from the cache") || !strings.Contains(log, "incremental: no kept tree") {
		t.Fatalf("the second cell did not restore the smoke nginx into a new kept tree:\n%s", log)
	}
	if log := cell(cells); !strings.Contains(log, "configure skipped") {
		t.Fatalf("not warm:\n%s", log)
	}
	core, _ := filepath.Glob(filepath.Join(cells, "*", "objs", "src", "core", "*.o"))
	if len(core) != 0 {
		t.Errorf("the warm cell compiled nginx's core again (%d objects, e.g. %s)", len(core), core[0])
	}
}

// TestPlantedObjectIsNotReused is issue 30's item 8: an object planted in
// a kept tree (a restored cache written by someone else), newer than its
// source so make would not rebuild it, is noticed against the tree's
// record: the tree is not reused, the cell builds from clean, and its .so
// does not carry the planted bytes. The cell manifest says the build was
// incremental, and release refuses it.
func TestPlantedObjectIsNotReused(t *testing.T) {
	mirror := prerequisites(t)
	objcopy := testenv.Tool(t, "objcopy", "binutils")
	hello := filepath.Join(t.TempDir(), "hello")
	testenv.CopyTree(t, filepath.Join(testenv.RepoRoot(), "examples", "hello-world"), hello, nil)
	cells := t.TempDir()
	cell := func() (Result, string) {
		t.Helper()
		var log bytes.Buffer
		o := options(t, mirror, "1.22.1", Module{ID: "hello", Dir: hello})
		o.Incremental, o.PackageState, o.Log = cells, func() string { return "test" }, &Log{W: &log}
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		return res, log.String()
	}
	res, _ := cell()
	if !res.Manifest.Cells[0].Incremental {
		t.Errorf("the cell manifest does not say it was built incrementally: %+v", res.Manifest.Cells[0])
	}
	objs, _ := filepath.Glob(filepath.Join(cells, "*", "objs", "addon", "*", "ngx_http_hello_world_module.o"))
	if len(objs) != 1 {
		t.Fatalf("the kept object: %v", objs)
	}
	marker := filepath.Join(t.TempDir(), "marker")
	os.WriteFile(marker, []byte("PLANTED-BY-SOMEONE-ELSE"), 0o644)
	if out, err := exec.Command(objcopy, "--add-section", ".planted="+marker, "--set-section-flags", ".planted=alloc,load,readonly,data", objs[0]).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	res, log := cell()
	if !strings.Contains(log, "is not reused") || !strings.Contains(log, "ngx_http_hello_world_module.o differs") || strings.Contains(log, "configure skipped") {
		t.Errorf("the planted tree was reused:\n%s", log)
	}
	for _, f := range res.Files {
		if data := mustReadFile(t, f); bytes.Contains(data, []byte("PLANTED-BY-SOMEONE-ELSE")) {
			t.Errorf("%s carries the planted object", f)
		}
	}
	// A warm check of an untouched tree still is one.
	if _, log := cell(); !strings.Contains(log, "configure skipped") {
		t.Errorf("the rebuilt tree was not reused:\n%s", log)
	}
}
