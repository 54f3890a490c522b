package install

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func TestMatches(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		module, name string
		want         bool
	}{
		{"ngx_http_echo_module", "ngx_http_echo_module", true},
		{"ngx_http_echo_module", "ngx_http_echo", true},
		{"ngx_http_echo_module", "echo", true},
		{"ndk_http_module", "ndk_http", true},
		{"ngx_stream_geoip2_module", "geoip2", true},
		{"ngx_http_echo_module", "ech", false},
		{"ngx_http_echo_module", "http_echo", true},
		{"ngx_http_set_misc_module", "misc", false},
	} {
		if got := Matches(c.module, c.name); got != c.want {
			t.Errorf("Matches(%s, %s) = %t", c.module, c.name, got)
		}
	}
}

func TestPickNeverGuesses(t *testing.T) {
	t.Parallel()
	e := func(nginx, distro, arch string) manifest.Entry {
		return manifest.Entry{Module: "ngx_http_echo_module", Nginx: nginx, Distro: distro, Arch: arch, File: nginx + distro + arch}
	}
	// An image target's build: made like one binary, under the image's
	// distro name, on a host whose os-release says debian-12.
	custom := e("1.26.3", "custom-1.26", "amd64")
	custom.Target = strings.Repeat("ab", 32)
	m := &manifest.Manifest{Entries: []manifest.Entry{e("1.22.1", "debian-12", "amd64"), e("1.22.1", "ubuntu-24.04", "arm64"),
		e("1.26.3", "ubuntu-24.04", "amd64"), e("1.26.3", "alpine-3.22", "amd64"), e("1.26.3", "debian-12", "amd64"), custom}}
	for _, c := range []struct {
		w    Want
		file string
		err  string
	}{
		{Want{Module: "echo", Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64"}, "1.22.1debian-12amd64", ""},
		{Want{Module: "echo", Nginx: "1.24.0", Distro: "debian-12", Arch: "amd64"}, "", "no build for nginx 1.24.0 in the release (built for 1.22.1, 1.26.3)"},
		{Want{Module: "echo", Nginx: "1.22.1", Distro: "debian-12", Arch: "s390x"}, "", "no s390x build (there are amd64, arm64)"},
		{Want{Module: "echo", Nginx: "1.26.3", Distro: "debian-13", Arch: "amd64"}, "", "no build for debian-13; there are builds for alpine-3.22, custom-1.26, debian-12, ubuntu-24.04: if one of those matches"},
		{Want{Module: "echo", Nginx: "1.26.3", Distro: "debian-13", UseDistro: "ubuntu-24.04", Arch: "amd64"}, "1.26.3ubuntu-24.04amd64", ""},
		{Want{Module: "echo", Nginx: "1.26.3", Distro: "debian-13", UseDistro: "fedora-44", Arch: "amd64"}, "", "no build for --distro fedora-44"},
		{Want{Module: "lua", Nginx: "1.26.3", Arch: "amd64"}, "", `no module "lua" in the release (it has ngx_http_echo_module)`},
		// The host runs the binary the image target was built like: that
		// build, not its distro's; any other binary gets the distro's.
		{Want{Module: "echo", Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Binary: custom.Target}, "1.26.3custom-1.26amd64", ""},
		{Want{Module: "echo", Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Binary: strings.Repeat("cd", 32)}, "1.26.3debian-12amd64", ""},
		{Want{Module: "echo", Nginx: "1.26.3", Distro: "debian-12", UseDistro: "ubuntu-24.04", Arch: "amd64", Binary: custom.Target}, "1.26.3ubuntu-24.04amd64", ""},
	} {
		got, err := Pick(m, c.w)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%+v: err %v, want %q", c.w, err, c.err)
		case c.err == "" && (err != nil || got.File != c.file):
			t.Errorf("%+v: %v %s, want %s", c.w, err, got.File, c.file)
		}
	}
}

// snapshot is every path under root with its mode, contents or link
// target, and times.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		v := fi.Mode().String() + " " + fi.ModTime().String()
		if fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			v += " -> " + l
		} else if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			v += " " + string(b)
		}
		out[p] = v
		return nil
	})
	return out
}

func TestRollbackIsExact(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mods := filepath.Join(root, "modules")
	enabled := filepath.Join(root, "modules-enabled")
	os.MkdirAll(mods, 0o755)
	os.MkdirAll(enabled, 0o755)
	os.WriteFile(filepath.Join(mods, "a.so"), []byte("old a"), 0o600)
	os.Symlink("/elsewhere", filepath.Join(enabled, "50-mod-a.conf"))
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{filepath.Join(mods, "a.so"), mods, enabled, root} {
		os.Chtimes(p, old, old)
	}
	before := snapshot(t, root)

	var x tx
	if err := x.write(filepath.Join(mods, "a.so"), []byte("new a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := x.write(filepath.Join(mods, "b.so"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := x.write(filepath.Join(root, "modules-available", "mod-a.conf"), []byte("load_module a;"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := x.symlink(filepath.Join(root, "modules-available", "mod-a.conf"), filepath.Join(enabled, "50-mod-a.conf")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(mods, "a.so")); string(b) != "new a" {
		t.Fatalf("a.so = %q", b)
	}
	if err := x.rollback(); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, root)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: %q -> %q", p, v, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s left behind", p)
		}
	}

	// A commit keeps the new files and leaves no backups.
	var y tx
	y.write(filepath.Join(mods, "a.so"), []byte("new a"), 0o644)
	y.commit()
	entries, _ := os.ReadDir(mods)
	if len(entries) != 1 || entries[0].Name() != "a.so" {
		t.Errorf("after commit: %v", entries)
	}
}

func TestDetectLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct{ conf, style, sub string }{
		{"user www-data;\ninclude /etc/nginx/modules-enabled/*.conf;\nevents {}\n", "debian", "/etc/nginx/modules-enabled"},
		{"include /etc/nginx/modules/*.conf;\nevents {}\n", "dir", "/etc/nginx/modules"},
		{"include /usr/share/nginx/modules/*.conf;\nevents {}\n", "dir", "/usr/share/nginx/modules"},
		{"load_module modules/x.so;\nevents {}\nhttp { include /etc/nginx/modules/*.conf; }\n", "", ""},
	} {
		p := filepath.Join(dir, "nginx.conf")
		os.WriteFile(p, []byte(c.conf), 0o644)
		l, err := DetectLayout(p)
		if err != nil || l.Style != c.style || l.Dir != c.sub {
			t.Errorf("%q: %+v %v", c.conf, l, err)
		}
	}
}

// TestPickShortNames is issue 33 item 8: headers-more and
// headers-more-filter (the package's spelling) pick
// ngx_http_headers_more_filter_module; a name several modules start
// with is refused, naming them.
func TestPickShortNames(t *testing.T) {
	t.Parallel()
	var m manifest.Manifest
	for _, mod := range []string{"ngx_http_headers_more_filter_module", "ngx_http_set_misc_module", "ngx_http_set_cconv_module"} {
		m.Entries = append(m.Entries, manifest.Entry{Module: mod, Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64", File: mod + ".so"})
	}
	for name, want := range map[string]string{
		"headers_more_filter": "ngx_http_headers_more_filter_module", "headers-more-filter": "ngx_http_headers_more_filter_module",
		"headers-more": "ngx_http_headers_more_filter_module", "headers": "ngx_http_headers_more_filter_module",
		"set-misc": "ngx_http_set_misc_module", "ngx_http_set_misc_module": "ngx_http_set_misc_module",
	} {
		e, err := Pick(&m, Want{Module: name, Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64"})
		if err != nil || e.Module != want {
			t.Errorf("%s: %v %s, want %s", name, err, e.Module, want)
		}
	}
	if _, err := Pick(&m, Want{Module: "set", Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64"}); err == nil ||
		!strings.Contains(err.Error(), `"set" names several modules of the release (ngx_http_set_cconv_module, ngx_http_set_misc_module)`) {
		t.Errorf("set: %v", err)
	}
	if _, err := Pick(&m, Want{Module: "headers-mor", Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64"}); err == nil {
		t.Errorf("a name cut inside a word picked a module")
	}
}

// TestAlreadyLoadedElsewhere is issue 33 item 8's second half: a module
// the configuration loads from another file (Debian's echo package) is
// refused before any change, naming the line, the file and its package;
// the file install itself placed (a reinstall) is not "elsewhere".
func TestAlreadyLoadedElsewhere(t *testing.T) {
	const debSO = "debs/bookworm-amd64/libnginx-mod-http-echo/usr/lib/nginx/modules/ngx_http_echo_module.so"
	so := filepath.Join(testenv.Mirror(t, debSO), debSO)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "modules-enabled"), 0o755)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte("include modules-enabled/*.conf;\nevents {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules-enabled", "50-mod-http-echo.conf"), []byte("load_module "+so+";\n"), 0o644)
	h := &Host{ConfPath: filepath.Join(dir, "nginx.conf")}
	items := []Item{{Entry: manifest.Entry{Module: "ngx_http_echo_module"}, Dest: filepath.Join(dir, "modules", "ngx_http_echo_module.so")}}
	owner := func(p string) string {
		if p == so {
			return "libnginx-mod-http-echo"
		}
		return ""
	}
	err := notLoadedElsewhere(context.Background(), h, items, owner)
	want := "ngx_http_echo_module is already loaded by " + filepath.Join(dir, "modules-enabled", "50-mod-http-echo.conf") + ":1 (" + so + ", the package libnginx-mod-http-echo's)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	items[0].Dest = so
	if err := notLoadedElsewhere(context.Background(), h, items, owner); err != nil {
		t.Errorf("its own file: %v", err)
	}
	items[0].Entry.Module = "ngx_http_headers_more_filter_module"
	if err := notLoadedElsewhere(context.Background(), h, items, owner); err != nil {
		t.Errorf("another module: %v", err)
	}
}
