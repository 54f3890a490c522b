package cell

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// fakeIndex answers like a distribution's package index: names it has,
// names whose install fails (a broken dependency).
type fakeIndex struct {
	has, broken map[string]bool
	installs    [][]string
}

func (f *fakeIndex) Resolve(_ context.Context, c []string) (string, error) {
	for _, p := range c {
		if f.has[p] {
			return p, nil
		}
	}
	return "", &sysdeps.NotInIndex{Distro: "debian-11", Candidates: c, Command: []string{"apt-get", "install", "-s"}}
}

func (f *fakeIndex) Install(_ context.Context, pkgs []string) error {
	f.installs = append(f.installs, pkgs)
	for _, p := range pkgs {
		if f.broken[p] {
			return errors.New("E: Unable to correct problems, you have held broken packages.")
		}
	}
	return nil
}

func hinted(t *testing.T, name, config string, packages ...string) prepared {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := modconf.ReadHints(dir)
	if err != nil {
		t.Fatal(err)
	}
	return prepared{Module: Module{ID: name, Dir: dir, Packages: map[distro.Family][]string{distro.Apt: packages}}, hints: h}
}

// TestDepsFailAlone is the Debian 11 case of issue 20 without a
// container: lua's LuaJIT resolves to Debian 11's name; a module whose
// declared package the index lacks fails alone (phase deps, not
// transient), one whose packages do not install fails alone, and the
// others go on, their packages installed.
func TestDepsFailAlone(t *testing.T) {
	t.Parallel()
	lua := hinted(t, "lua", "ngx_feature_incs=\"#include <luajit.h>\"\nngx_feature_libs=\"-lluajit-5.1 -lm\"\n")
	dav := hinted(t, "dav-ext", "ngx_module_type=HTTP\nngx_module_libs=LIBXSLT\n. auto/module\n")
	nosuch := hinted(t, "nosuch", "ngx_module_type=HTTP\n", "libnosuch-dev")
	broken := hinted(t, "broken", "ngx_module_type=HTTP\n", "libbroken-dev")
	plain := hinted(t, "plain", "ngx_module_type=HTTP\n")
	idx := &fakeIndex{has: map[string]bool{"libluajit-5.1-dev": true, "libxslt1-dev": true, "libbroken-dev": true},
		broken: map[string]bool{"libbroken-dev": true}}
	b := &builder{o: Options{Packages: idx, Family: distro.Apt, Distro: "debian-11", Log: &Log{W: testWriter{t}}}, installed: map[string]bool{}, unresolved: map[string][]string{}}
	ok, err := b.installHinted(context.Background(), []prepared{lua, dav, nosuch, broken, plain})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ok {
		got = append(got, m.ID)
	}
	if diff := cmp.Diff([]string{"lua", "dav-ext", "plain"}, got); diff != "" {
		t.Errorf("modules that go on (-want +got):\n%s", diff)
	}
	failed := map[string]string{}
	for _, f := range b.failed {
		failed[f.Source] = string(f.Phase)
		switch f.Source {
		case "nosuch":
			if f.Transient || !strings.Contains(f.Error, "libnosuch-dev") || !strings.Contains(f.Error, "apt-get install -s") {
				t.Errorf("nosuch: %+v", f)
			}
		case "broken":
			if !strings.Contains(f.Error, "broken packages") {
				t.Errorf("broken: %+v", f)
			}
		}
	}
	if diff := cmp.Diff(map[string]string{"nosuch": "deps", "broken": "deps"}, failed); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	// All together first; then each module alone, to find the one.
	if len(idx.installs) == 0 || !slices.Contains(idx.installs[0], "libluajit-5.1-dev") || !slices.Contains(idx.installs[0], "libxslt1-dev") {
		t.Errorf("installs %v", idx.installs)
	}
	if !b.installed["libluajit-5.1-dev"] || !b.installed["libxslt1-dev"] || b.installed["libbroken-dev"] {
		t.Errorf("installed %v", b.installed)
	}
}

// TestSwitchCulprits: a configure that fails in nginx's own probe for a
// library switch blames the modules whose config turned it on.
func TestSwitchCulprits(t *testing.T) {
	t.Parallel()
	mods := []prepared{{index: 0}, {index: 1}, {index: 2}}
	rec := map[int]*declared{
		0: {Before: map[string]string{"USE_LIBXSLT": "NO"}, After: map[string]string{"USE_LIBXSLT": "NO"}},
		1: {Before: map[string]string{"USE_LIBXSLT": "NO"}, After: map[string]string{"USE_LIBXSLT": "DYNAMIC"}},
		2: {Before: map[string]string{"USE_LIBXSLT": "DYNAMIC"}, After: map[string]string{"USE_LIBXSLT": "DYNAMIC"}},
	}
	out := "adding module in /w/addons/01-dav\n + ngx_http_dav_ext_module was configured\nchecking for libxslt ... not found\n" +
		"./configure: error: the HTTP XSLT module requires the libxml2/libxslt\nlibraries. You can either do not enable the module or install the libraries.\n"
	sw, blamed := switchCulprits(out, mods, rec)
	if sw != "LIBXSLT" || !slices.Equal(blamed, []int{1}) {
		t.Errorf("switchCulprits = %s %v, want LIBXSLT [1]", sw, blamed)
	}
	if sw, blamed := switchCulprits("./configure: error: C compiler cc is not found\n", mods, rec); sw != "" || blamed != nil {
		t.Errorf("a compiler failure was blamed on %s %v", sw, blamed)
	}
}

// TestWrapperConfigMake: nginx's auto/make sources config.make from each
// addon directory; the wrapper's points back at the module's own, with
// ngx_addon_dir set to it (njs's rules build $ngx_addon_dir/../build).
func TestWrapperConfigMake(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	withMake := filepath.Join(t.TempDir(), "nginx")
	os.MkdirAll(withMake, 0o755)
	os.WriteFile(filepath.Join(withMake, "config"), []byte("ngx_addon_name=x\n"), 0o644)
	os.WriteFile(filepath.Join(withMake, "config.make"), []byte("echo rules >> $NGX_MAKEFILE\n"), 0o644)
	dir, err := writeWrapper(work, 0, Module{Dir: withMake}, filepath.Join(work, "rec"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.make"))
	if err != nil {
		t.Fatalf("no config.make in the wrapper: %v", err)
	}
	if !strings.Contains(string(b), "ngx_addon_dir='"+withMake+"'") || !strings.Contains(string(b), `. "$ngx_addon_dir/config.make"`) {
		t.Errorf("wrapper config.make:\n%s", b)
	}
	plain := filepath.Join(t.TempDir(), "plain")
	os.MkdirAll(plain, 0o755)
	os.WriteFile(filepath.Join(plain, "config"), []byte("ngx_addon_name=y\n"), 0o644)
	dir, _ = writeWrapper(work, 1, Module{Dir: plain}, filepath.Join(work, "rec"))
	if _, err := os.Stat(filepath.Join(dir, "config.make")); err == nil {
		t.Error("a wrapper config.make for a module without one")
	}
}

// TestWrapperQuotesTheDirectory is issue 21 item 8: a module directory
// whose name holds a command substitution is a name to the wrapper,
// never run, and the probe marker names it exactly.
func TestWrapperQuotesTheDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	pwned := filepath.Join(root, "pwned")
	dir := filepath.Join(root, `mod "$(touch `+pwned+`)" `+"`touch "+pwned+"`")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config"), []byte("ngx_addon_name=x\n"), 0o644)
	work := t.TempDir()
	w, err := writeWrapper(work, 3, Module{Dir: dir}, filepath.Join(work, "rec"))
	if err != nil {
		t.Fatal(err)
	}
	errFile := filepath.Join(work, "autoconf.err")
	cmd := exec.Command("sh", "-c", `. "$1/config"`, "sh", w)
	cmd.Env = append(os.Environ(), "NGX_AUTOCONF_ERR="+errFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the wrapper: %v\n%s", err, out)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("the directory's name was run as a command")
	}
	b, _ := os.ReadFile(errFile)
	if string(b) != "nginx-modbuild: module 3 config "+dir+"\n" {
		t.Errorf("marker %q", b)
	}
}
