package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/host/preflight"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// debModule is a module .so from Debian's packages (scripts/debs).
func debModule(t *testing.T, suite, pkg, so string) string {
	t.Helper()
	mirror := testenv.Mirror(t, filepath.Join("debs", suite, pkg, "VERSION"))
	return filepath.Join(mirror, "debs", suite, pkg, "usr/lib/nginx/modules", so)
}

func TestInspect(t *testing.T) {
	echo := debModule(t, "bookworm-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so")
	stream := debModule(t, "trixie-amd64", "libnginx-mod-stream", "ngx_stream_module.so")
	h := newHarness(t)

	r := h.run("inspect", echo, stream)
	if r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	for _, want := range []string{
		"WITH-COMPAT\n", "BUILT FOR must equal the nginx's",
		"ngx_http_echo_module  ", "1.22.1", "8,4,8,0011111111010111001111111111111111  yes",
		"ngx_stream_ssl_preread_module", "1.26.3", "8,4,8,0011111111010111011111111111111111  yes",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}

	r = h.run("inspect", "--json", stream)
	var got []struct {
		Path       string
		Kind       string
		WithCompat *bool `json:"with_compat"`
		Modules    []struct {
			Name    string
			Version uint64
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	if len(got) != 1 || got[0].Kind != "module" || len(got[0].Modules) != 21 || got[0].Modules[20].Version != 1026003 || got[0].WithCompat == nil || !*got[0].WithCompat {
		t.Errorf("json = %+v", got)
	}

	// --signature names every position, once per distinct signature.
	r = h.run("inspect", "--signature", echo)
	for _, want := range []string{
		"ngx_http_echo_module.so: signature 8,4,8,0011111111010111001111111111111111 (nginx 1.22.1)",
		"pointer size: 8 bytes", "bit  1 NGX_HAVE_KQUEUE", "bit  6 NGX_HAVE_EPOLL",
	} {
		if !strings.Contains(r.stdout, want) || r.code != 0 {
			t.Errorf("inspect --signature lacks %q (exit %d):\n%s", want, r.code, r.stdout)
		}
	}
	for _, re := range []string{`bit 23 NGX_PCRE +PCRE +on\n`, `bit 34 NGX_COMPAT +--with-compat +on\n`, `bit 13 NGX_HAVE_SETFIB +setfib +off\n`} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("inspect --signature does not match %s:\n%s", re, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "signature 8,4,8"); n != 1 {
		t.Errorf("%d decodings of one signature", n)
	}
	r = h.run("inspect", "--json", "--signature", stream)
	var dec []struct {
		Decoded []struct {
			Positions []struct {
				Bit          int
				Macro, Value string
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &dec); err != nil || len(dec) != 1 || len(dec[0].Decoded) != 1 ||
		len(dec[0].Decoded[0].Positions) != 37 || dec[0].Decoded[0].Positions[3+17].Macro != "" || dec[0].Decoded[0].Positions[3+17].Value != "on" {
		t.Errorf("inspect --json --signature (bit 18, QUIC in 1.26.3, on): %v\n%s", err, r.stdout)
	}

	notModule := filepath.Join(t.TempDir(), "README.so")
	os.WriteFile(notModule, []byte("text"), 0o644)
	r = h.run("inspect", echo, notModule)
	if r.code != 1 || !strings.Contains(r.stdout, "not an ELF file") || !strings.Contains(r.stdout, "ngx_http_echo_module") {
		t.Errorf("exit %d:\n%s", r.code, r.stdout)
	}
	if r = h.run("inspect"); r.code != 2 {
		t.Errorf("no files: exit %d", r.code)
	}
}

func TestCheck(t *testing.T) {
	echo122 := debModule(t, "bookworm-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so")
	echo126 := debModule(t, "trixie-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so")
	bin := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "modules-enabled"), 0o755)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte("include modules-enabled/*.conf;\nevents {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules-enabled", "50-echo.conf"), []byte("# the echo module\nload_module "+echo126+";\n"), 0o644)
	conf := filepath.Join(dir, "nginx.conf")
	h := newHarness(t)
	h.env["PATH"] = ""

	r := h.run("check", "--conf", conf, "--nginx-binary", bin)
	if r.code != 1 {
		t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.stdout)
	}
	if strings.Contains(r.stderr, "deprecated") {
		t.Errorf("--nginx-binary warned: %s", r.stderr)
	}
	// The old spelling still works, and says what to write instead.
	old := h.run("check", "--conf", conf, "--nginx", bin)
	if old.code != 1 || old.stdout != r.stdout || !strings.Contains(old.stderr, "check --nginx PATH is deprecated here: use --nginx-binary PATH") {
		t.Errorf("--nginx PATH: exit %d\n%s\n%s", old.code, old.stderr, old.stdout)
	}
	// No target: the nginx installed here (issue 33 item 9).
	here := h.run("check", "--conf", conf)
	if here.code != 1 || here.stdout != r.stdout || !strings.Contains(here.stderr, "no target given: checking against the nginx installed here, "+bin) {
		t.Errorf("check with no target: exit %d\n%s\n%s", here.code, here.stderr, here.stdout)
	}
	for _, want := range []string{
		"VERSION-MISMATCH: ngx_http_echo_module was built for nginx 1.26.3; the target is 1.22.1",
		`nginx -t will say: nginx: [emerg] module "` + echo126 + `" version 1026003 instead of 1022001 in ` +
			filepath.Join(dir, "modules-enabled", "50-echo.conf") + ":2",
		"build ngx_http_echo_module_1.22.1.so: nginx-modbuild build --nginx 1.22.1",
		"0 of 1 load_module directives load into nginx 1.22.1.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}

	// The same configuration is safe for an upgrade to 1.26.3, not to
	// NGINX Plus R34 (based on 1.27.4).
	if r = h.run("check", "--conf", conf, "--target", "1.26.3"); r.code != 0 {
		t.Errorf("--target 1.26.3: exit %d\n%s", r.code, r.stdout)
	}
	r = h.run("check", "--conf", conf, "--target", "R34", "--json")
	var rep preflight.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
		t.Fatalf("exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if rep.Target.Plus != "R34" || rep.Target.Nginx != "1.27.4" || rep.Results[0].Status != preflight.VersionMismatch ||
		rep.Results[0].Build != "ngx_http_echo_module_1.27.4.so" {
		t.Errorf("report = %+v", rep)
	}
	if r = h.run("check", "--conf", conf, "--nginx-v", "nginx version: nginx/1.26.3"); r.code != 0 {
		t.Errorf("--nginx-v 1.26.3: exit %d\n%s", r.code, r.stdout)
	}
	// nginx -V output tells the prefix and that it is built without compat.
	os.WriteFile(filepath.Join(dir, "modules-enabled", "50-echo.conf"), []byte("load_module modules/echo.so;\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "prefix", "modules"), 0o755)
	os.Symlink(echo122, filepath.Join(dir, "prefix", "modules", "echo.so"))
	r = h.run("check", "--conf", conf, "--nginx-v", "nginx version: nginx/1.22.1\nbuilt by gcc 12\nconfigure arguments: --prefix="+filepath.Join(dir, "prefix"))
	if r.code != 1 || !strings.Contains(r.stdout, "NOT-BINARY-COMPATIBLE") || !strings.Contains(r.stdout, "(--with-compat): module on, nginx off") {
		t.Errorf("-V without --with-compat: exit %d\n%s", r.code, r.stdout)
	}

	for name, args := range map[string][]string{
		"two targets":    {"check", "--conf", conf, "--target", "1.26.3", "--nginx-binary", bin},
		"unknown target": {"check", "--conf", conf, "--target", "R999"},
		"not a version":  {"check", "--conf", conf, "--target", "latest"},
		"missing conf":   {"check", "--conf", filepath.Join(dir, "absent.conf"), "--target", "1.26.3"},
		"not nginx":      {"check", "--conf", conf, "--nginx-binary", echo122},
	} {
		if r := h.run(args...); r.code != 2 {
			t.Errorf("%s: exit %d, want 2: %v", name, r.code, r.err)
		}
	}
}
