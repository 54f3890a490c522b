package manifest

import (
	"strings"
	"testing"
)

const sample = `{
  "schema": 1,
  "entries": [
    {"module": "ngx_http_echo_module", "source": "https://github.com/openresty/echo-nginx-module", "nginx": "1.26.3",
     "distro": "debian-12", "arch": "amd64", "file": "ngx_http_echo_module_1.26.3_debian-12_amd64.so", "sha256": "ab"},
    {"module": "ngx_http_hello_module", "source": ".", "nginx": "1.26.3",
     "distro": "debian-12", "arch": "amd64", "file": "ngx_http_hello_module_1.26.3_debian-12_amd64.so", "sha256": "cd"},
    {"module": "ngx_http_hello_module", "source": ".", "nginx": "1.26.3",
     "distro": "debian-12", "arch": "arm64", "file": "ngx_http_hello_module_1.26.3_debian-12_arm64.so", "sha256": "ef"}
  ]
}`

func TestBuilt(t *testing.T) {
	t.Parallel()
	m, err := Parse("manifest.json", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	both := m.Built([]string{".", "https://github.com/openresty/echo-nginx-module"})
	tests := []struct {
		nginx, distro, arch string
		want                bool
	}{
		{"1.26.3", "debian-12", "amd64", true},
		{"1.26.3", "debian-12", "arm64", false}, // echo missing there
		{"1.28.0", "debian-12", "amd64", false},
	}
	for _, tt := range tests {
		if got := both(tt.nginx, tt.distro, tt.arch); got != tt.want {
			t.Errorf("Built(%s, %s, %s) = %v", tt.nginx, tt.distro, tt.arch, got)
		}
	}
	if !m.Built([]string{"."})("1.26.3", "debian-12", "arm64") {
		t.Error("hello alone is built on arm64")
	}
	if m.Built(nil)("1.26.3", "debian-12", "amd64") {
		t.Error("no modules means nothing is built")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"{\n  \"schema\": 1,\n  \"entries\": [,]\n}", "m.json:3:15: invalid character ','"},
		{`{"schema": "1"}`, "m.json:1:15: json: cannot unmarshal string"},
		{`{"schema": 2, "entries": []}`, "m.json: manifest schema 2, this nginx-modbuild reads 1"},
		{`{"schema": 1, "entries": [{"nginx": "1.26.3"}]}`, "lacks source"},
		{`{"schema": 1, "extra": true}`, `unknown field "extra"`},
	}
	for _, tt := range tests {
		_, err := Parse("m.json", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

// TestBuiltAsFailures is issue 12's rescheduling: a cell whose module
// failed for a reason of its own is not planned again until the module
// changes; one that failed for the environment's (a download) is.
func TestBuiltAsFailures(t *testing.T) {
	m := &Manifest{Cells: []Cell{
		{Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64", Failures: []Failure{{Module: "up", Source: "up", Phase: "compile", Error: "up.c:9: error: x\nmore", Identity: "git:aaa"}}},
		{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Failures: []Failure{{Module: "up", Source: "up", Phase: "fetch", Error: "download: 503", Transient: true, Identity: "git:aaa"}}},
	}}
	st := m.BuiltAs([]string{"up"}, map[string]string{"up": "git:aaa"})
	if ok, why := st("1.22.1", "debian-12", "amd64"); !ok || why != "up failed (compile: up.c:9: error: x) and has not changed since" {
		t.Errorf("compile error, same commit: %t %q", ok, why)
	}
	if ok, why := st("1.26.3", "debian-12", "amd64"); ok || !strings.Contains(why, "retrying") {
		t.Errorf("transient: %t %q", ok, why)
	}
	st = m.BuiltAs([]string{"up"}, map[string]string{"up": "git:bbb"})
	if ok, why := st("1.22.1", "debian-12", "amd64"); ok || why != "up changed since its compile failed" {
		t.Errorf("compile error, new commit: %t %q", ok, why)
	}
	if ok, _ := st("1.28.0", "debian-12", "amd64"); ok {
		t.Error("a cell never built counts as built")
	}
}

// TestFailureReason: the one-line reason is the first real error line,
// never a bare heading such as "did not compile:".
func TestFailureReason(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ err, want string }{
		{"did not compile:\nmake: *** No rule to make target '/src/njs/nginx/../build/libnjs.a', needed by 'objs/ngx_http_js_module.so'.  Stop.",
			"make: *** No rule to make target '/src/njs/nginx/../build/libnjs.a', needed by 'objs/ngx_http_js_module.so'.  Stop."},
		{"did not compile:\n/usr/bin/ld: x.o:/src/nchan/a.h:66: multiple definition of `redis_lua_scripts'; y.o: first defined here",
			"/usr/bin/ld: x.o:/src/nchan/a.h:66: multiple definition of `redis_lua_scripts'; y.o: first defined here"},
		{"configure stopped in its config:\n./configure: error: the HTTP XSLT module requires the libxml2/libxslt",
			"./configure: error: the HTTP XSLT module requires the libxml2/libxslt"},
		{"nginx -t refused it: nginx: [emerg] dlopen() \"/x.so\" failed (/x.so: undefined symbol: pcre_fullinfo)",
			"nginx -t refused it: nginx: [emerg] dlopen() \"/x.so\" failed (/x.so: undefined symbol: pcre_fullinfo)"},
		// ld's own words (Debian 12's binutils), its warning and
		// collect2's summary around the line that says what to do.
		{"did not compile:\n/usr/bin/ld: libnopic.a(lib.o): warning: relocation against `nopic_counter' in read-only section `.text'\n" +
			"/usr/bin/ld: libnopic.a(lib.o): relocation R_X86_64_PC32 against symbol `nopic_counter' can not be used when making a shared object; recompile with -fPIC\n" +
			"/usr/bin/ld: final link failed: bad value\ncollect2: error: ld returned 1 exit status\ncc -o objs/ngx_http_nopic_module.so \\",
			"/usr/bin/ld: libnopic.a(lib.o): relocation R_X86_64_PC32 against symbol `nopic_counter' can not be used when making a shared object; recompile with -fPIC"},
		{"did not compile:\nsomething went wrong", "did not compile: something went wrong"},
		{"one line", "one line"},
	} {
		if got := (Failure{Error: tt.err}).Reason(); got != tt.want {
			t.Errorf("Reason(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
