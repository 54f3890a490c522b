package distrotest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestStreamModuleBesideDebiansStream is issue 34's item 3 where it runs:
// stream-sts as its maintainer publishes it (ngx_module_type=STREAM, no
// configure arguments in the config) built in a bare Debian 12 for its
// nginx 1.22.1 with --packages; the .deb holds the module's .so only,
// never nginx's ngx_stream_module.so (Debian's libnginx-mod-stream owns
// that file), depends on libnginx-mod-stream, and, installed with real
// apt from the signed repository into another bare Debian 12, pulls it
// in and loads after it (70- after its 50-mod-stream.conf): nginx -t
// passes with a stream block using the module's directive.
func TestStreamModuleBesideDebiansStream(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	src, work := t.TempDir(), t.TempDir()
	if err := os.Rename(testenv.Upstream(t, "nginx-module-stream-sts"), filepath.Join(src, "stream-sts")); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, filepath.Join(work, "sts.yml"), []module{{name: "stream-sts"}}, `location = /t { return 200; }`, "/t", "")
	c := toolContainer(t, "debian:12", mirror, src, work)
	out, err := build(c, "sts.yml", "1.22.1", "debian-12", "dist/debian-12", "--packages")
	if err != nil {
		t.Fatalf("build --packages: %v\n%s", err, testenv.Tail(out, 40))
	}
	if !strings.Contains(out, "--with-stream=dynamic") {
		t.Errorf("the build log does not say it configures stream:\n%s", testenv.Tail(out, 40))
	}
	m := cellManifest(t, filepath.Join(work, "dist", "debian-12"))
	var built []string
	for _, e := range m.Entries {
		built = append(built, e.Module+" "+e.Kind+" "+strings.Join(e.NginxModules, ","))
	}
	if want := []string{"ngx_stream_server_traffic_status_module  ngx_stream_module", "ngx_stream_server_traffic_status_module deb ngx_stream_module"}; !slices.Equal(built, want) {
		t.Errorf("entries (module, kind, nginx modules) %q, want %q: the module and its package, no ngx_stream_module", built, want)
	}
	debs, _ := filepath.Glob(filepath.Join(work, "dist", "debian-12", "*.deb"))
	if len(debs) != 1 {
		t.Fatalf(".debs %v, want one", debs)
	}
	info, _ := exec.Command("dpkg-deb", "-I", debs[0]).CombinedOutput()
	list, _ := exec.Command("dpkg-deb", "-c", debs[0]).CombinedOutput()
	if !strings.Contains(string(info), "libnginx-mod-stream") || strings.Contains(string(list), "ngx_stream_module.so") {
		t.Errorf("the .deb:\n%s\n%s", info, list)
	}
	ctx := context.Background()
	h, out, err := aptInstallPublished(t, "debian:12", "bookworm", filepath.Join(work, "dist"), "nginx-module-server-traffic-status")
	t.Logf("apt-get install nginx-module-server-traffic-status:\n%s", testenv.Tail(out, 14))
	if err != nil || strings.Contains(out, "trying to overwrite") {
		t.Fatalf("apt-get install: %v\n%s", err, testenv.Tail(out, 30))
	}
	if st := h.Shell(ctx, "dpkg-query -W -f='${db:Status-Abbrev}' libnginx-mod-stream"); !strings.HasPrefix(st, "ii") {
		t.Errorf("libnginx-mod-stream not installed with it: %q", st)
	}
	enabled := strings.Fields(h.Shell(ctx, "ls /etc/nginx/modules-enabled/"))
	if !slices.Contains(enabled, "50-mod-stream.conf") || !slices.Contains(enabled, "70-mod-stream-server-traffic-status.conf") {
		t.Errorf("modules-enabled: %v, want Debian's 50-mod-stream.conf and our 70-mod-stream-server-traffic-status.conf", enabled)
	}
	h.Shell(ctx, `echo 'stream { server_traffic_status_zone; }' >> /etc/nginx/nginx.conf`)
	if out, err := h.Exec(ctx, nil, "nginx", "-t"); err != nil {
		t.Errorf("nginx -t with the stream module's directive: %v\n%s", err, out)
	} else {
		t.Logf("nginx -t: %s", out)
	}
	if audit := h.Shell(ctx, "dpkg --audit 2>&1"); strings.TrimSpace(audit) != "" {
		t.Errorf("dpkg --audit: %s", audit)
	}
}
