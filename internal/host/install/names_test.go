package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// echoRelease is a directory release holding Debian 12's packaged echo
// module (a real .so for nginx 1.22.1) under the manifest entry given.
func echoRelease(t *testing.T, module string) (Dir, *Host) {
	t.Helper()
	mirror := testenv.Mirror(t, "debs/bookworm-amd64/libnginx-mod-http-echo/VERSION")
	bin := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	so, err := os.ReadFile(filepath.Join(mirror, "debs", "bookworm-amd64", "libnginx-mod-http-echo", "usr", "lib", "nginx", "modules", "ngx_http_echo_module.so"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Inspect(bin, "ID=debian\nVERSION_ID=\"12\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if h.Target.Nginx != "1.22.1" {
		testenv.Missing(t, "Debian 12's nginx 1.22.1 at /usr/sbin/nginx (it is "+h.Target.Nginx+")", "a Debian 12 machine: apt-get install nginx")
	}
	dir := t.TempDir()
	file := manifest.AssetName(module, "1.22.1", "debian-12", h.Arch)
	os.WriteFile(filepath.Join(dir, file), so, 0o644)
	sum := sha256.Sum256(so)
	hexsum := hex.EncodeToString(sum[:])
	m := `{"schema": 1, "entries": [{"module": "` + module + `", "source": ".", "nginx": "1.22.1", "distro": "debian-12", "arch": "` + h.Arch +
		`", "file": "` + file + `", "sha256": "` + hexsum + `"}]}`
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(m), 0o644)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(hexsum+"  "+file+"\n"), 0o644)
	h.ModulesPath = t.TempDir()
	return Dir(dir), h
}

// TestManifestNameMustBeTheModule is issue 21 item 5: an entry whose
// bytes are another module is refused, with nothing placed.
func TestManifestNameMustBeTheModule(t *testing.T) {
	t.Parallel()
	src, h := echoRelease(t, "ngx_http_hello_world_module")
	_, err := Run(context.Background(), src, Options{Host: h, Modules: []string{"hello_world"}, Nginx: "1.22.1", PrintLoad: true})
	if err == nil || !strings.Contains(err.Error(), `the manifest says module "ngx_http_hello_world_module", but the file holds ["ngx_http_echo_module"]`) {
		t.Fatalf("a mislabelled module: %v", err)
	}
	if entries, _ := os.ReadDir(h.ModulesPath); len(entries) != 0 {
		t.Errorf("files placed: %v", entries)
	}
}

// TestSameModuleNamedTwice is issue 21 items 4 and 6: both spellings of
// one module install it once; a name that reads as a path is refused.
func TestSameModuleNamedTwice(t *testing.T) {
	t.Parallel()
	src, h := echoRelease(t, "ngx_http_echo_module")
	res, err := Run(context.Background(), src, Options{Host: h, Modules: []string{"echo", "ngx_http_echo_module"}, Nginx: "1.22.1", PrintLoad: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 {
		t.Errorf("items %d, want 1", len(res.Items))
	}
	for _, bad := range []string{"../echo", "echo\x1b[31m", "a/b"} {
		if _, err := Run(context.Background(), src, Options{Host: h, Modules: []string{bad}, Nginx: "1.22.1", PrintLoad: true, DryRun: true}); err == nil ||
			!strings.Contains(err.Error(), "a name must be") || strings.Contains(err.Error(), "\x1b") {
			t.Errorf("module name %q: %v", bad, err)
		}
	}
}

// TestOwner reads dpkg's file lists and apk's installed database.
func TestOwner(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg/info"), 0o755)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/info/libnginx-mod-http-echo:amd64.list"), []byte("/.\n/usr/lib/nginx/modules\n/usr/lib/nginx/modules/ngx_http_echo_module.so\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "lib/apk/db"), 0o755)
	os.WriteFile(filepath.Join(root, "lib/apk/db/installed"), []byte("P:nginx\nV:1.28.0-r0\nF:usr/sbin\nR:nginx\n\nP:nginx-mod-http-echo\nF:usr/lib/nginx/modules\nR:ngx_http_echo_module.so\n"), 0o644)
	for path, want := range map[string]string{
		"/usr/lib/nginx/modules/ngx_http_echo_module.so": "libnginx-mod-http-echo",
		"/usr/sbin/nginx": "nginx",
		"/usr/lib/nginx/modules/ngx_http_x_module.so": "",
		"/usr/lib/nginx/modules":                      "libnginx-mod-http-echo",
	} {
		if got := Owner(context.Background(), root, path); got != want {
			t.Errorf("Owner(%s) = %q, want %q", path, got, want)
		}
	}
}
