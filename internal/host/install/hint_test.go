package install

import (
	"errors"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// TestHintNamesThePackages: when nginx -t refuses a module whose library
// is missing (nginx's own words for a .so that links libbrotlienc.so.1
// on a host without it), the rollback's message names the package the
// manifest records for it; a stream module's names Debian's package of
// nginx's stream.
func TestHintNamesThePackages(t *testing.T) {
	items := []Item{
		{Entry: manifest.Entry{Module: "ngx_http_brotli_filter_module", Distro: "debian-12", Libraries: []string{"libbrotlienc.so.1"}, Runtime: []string{"libbrotli1"}}},
		{Entry: manifest.Entry{Module: "ngx_stream_server_traffic_status_module", NginxModules: []string{"ngx_stream_module"}}},
	}
	err := errors.New(`nginx: [emerg] dlopen() "/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so" failed (libbrotlienc.so.1: cannot open shared object file: No such file or directory) in /etc/nginx/modules-enabled/50-mod-http-brotli-filter.conf:1`)
	got := requiresHint(items, err)
	for _, want := range []string{"ngx_http_brotli_filter_module links libbrotlienc.so.1, from the package(s) libbrotli1 on debian-12: install them",
		"ngx_stream_server_traffic_status_module needs nginx's own ngx_stream_module loaded before it: install the distro's package of it (libnginx-mod-stream"} {
		if !strings.Contains(got, want) {
			t.Errorf("hint lacks %q:\n%s", want, got)
		}
	}
	if got := requiresHint(items[:1], errors.New("nginx: [emerg] unknown directive")); got != "" {
		t.Errorf("a library hint for another failure: %q", got)
	}
}

// TestRuntimePackages: what install --install-deps installs for a set of
// modules: each .so's runtime libraries' packages and the distro's
// package of each nginx module it loads after, once, in order (Debian's
// libnginx-mod-stream, another family's nginx-mod-stream).
func TestRuntimePackages(t *testing.T) {
	items := []Item{
		{Entry: manifest.Entry{Module: "ngx_http_brotli_filter_module", Distro: "debian-12", Runtime: []string{"libbrotli1"}}},
		{Entry: manifest.Entry{Module: "ngx_http_brotli_static_module", Distro: "debian-12", Runtime: []string{"libbrotli1"}}},
		{Entry: manifest.Entry{Module: "ngx_stream_server_traffic_status_module", Distro: "debian-12", NginxModules: []string{"ngx_stream_module"}}},
		{Entry: manifest.Entry{Module: "ngx_http_auth_ldap_module", Distro: "debian-12", Runtime: []string{"libldap-2.5-0"}}},
	}
	if got, want := strings.Join(RuntimePackages(items), " "), "libbrotli1 libnginx-mod-stream libldap-2.5-0"; got != want {
		t.Errorf("RuntimePackages = %q, want %q", got, want)
	}
	rocky := []Item{{Entry: manifest.Entry{Module: "ngx_stream_x_module", Distro: "rocky-9", NginxModules: []string{"ngx_stream_module"}}}}
	if got := strings.Join(RuntimePackages(rocky), " "); got != "nginx-mod-stream" {
		t.Errorf("RuntimePackages on rocky-9 = %q, want nginx-mod-stream", got)
	}
}
