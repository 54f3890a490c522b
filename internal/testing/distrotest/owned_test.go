package distrotest

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

// TestInstallNeverReplacesAPackagesFile is issue 30's item 10, in a bare
// Debian 12 with Debian's nginx and its echo module package: install of
// an echo build refuses to overwrite the package's
// /usr/lib/nginx/modules/ngx_http_echo_module.so, naming the package (a
// dry run says the same), and the file is the package's afterwards.
func TestInstallNeverReplacesAPackagesFile(t *testing.T) {
	const debSO = "debs/bookworm-amd64/libnginx-mod-http-echo/usr/lib/nginx/modules/ngx_http_echo_module.so"
	mirror := testenv.Mirror(t, debSO)
	so, err := os.ReadFile(filepath.Join(mirror, debSO))
	if err != nil {
		t.Fatal(err)
	}
	rel := t.TempDir()
	e := manifest.Entry{Module: "ngx_http_echo_module", Source: "https://github.com/openresty/echo-nginx-module", Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64", BuiltAt: "2026-11-30T10:00:00Z"}
	e.File = e.Asset()
	sum := sha256.Sum256(append(so, []byte("\x00rebuilt")...))
	e.SHA256 = hex.EncodeToString(sum[:])
	os.WriteFile(filepath.Join(rel, e.File), append(so, []byte("\x00rebuilt")...), 0o644) // other bytes than the package's
	m := manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{e}}
	os.WriteFile(filepath.Join(rel, "manifest.json"), m.Encode(), 0o644)

	ctx := context.Background()
	c := testenv.StartContainer(t, "debian:12",
		testenv.Mount{Host: testenv.ToolBinary(t), Container: "/usr/local/bin/nginx-modbuild", ReadOnly: true},
		testenv.Mount{Host: rel, Container: "/rel", ReadOnly: true})
	c.Shell(ctx, "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx libnginx-mod-http-echo >/dev/null")
	const path = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
	before := c.Shell(ctx, "sha256sum "+path+" && dpkg -S "+path)
	for _, dry := range []bool{true, false} {
		args := []string{"nginx-modbuild", "install", "--from", "/rel", "--no-provenance"}
		if dry {
			// Before the module names: after them, Go's flag parsing read
			// it as a module, and this case was no dry run at all.
			args = append(args, "--dry-run")
		}
		args = append(args, "echo")
		out, err := c.Exec(ctx, nil, args...)
		if err == nil || !strings.Contains(out, "refusing to replace "+path) || !strings.Contains(out, "libnginx-mod-http-echo") {
			t.Errorf("install (dry run %v) over the package's file: %v\n%s", dry, err, testenv.Tail(out, 10))
		}
	}
	if after := c.Shell(ctx, "sha256sum "+path+" && dpkg -S "+path); after != before {
		t.Errorf("the package's file changed:\n%s\n%s", before, after)
	}
	if out := c.Shell(ctx, "dpkg --verify libnginx-mod-http-echo && echo verified"); !strings.Contains(out, "verified") {
		t.Errorf("dpkg --verify:\n%s", out)
	}
}
