package modinfo

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

const (
	compat122 = "8,4,8,0011111111010111001111111111111111"
	// 1.25.3 added QUIC to the signature (flag 18), on with --with-compat.
	compat126 = "8,4,8,0011111111010111011111111111111111"
	// 32-bit: 4-byte pointers; bookworm's i386 and armhf have 4-byte time_t.
	compat122x32 = "4,4,4,0011111111010111001111111111111111"
)

// debs is the directory scripts/debs fills with Debian's packages.
func debs(t testing.TB) string {
	t.Helper()
	mirror := testenv.Mirror(t, "debs/bookworm-i386/nginx/VERSION")
	return filepath.Join(mirror, "debs")
}

func modulePath(debs, suite, pkg, so string) string {
	return filepath.Join(debs, suite, pkg, "usr/lib/nginx/modules", so)
}

// TestDebianModules reads Debian's packaged modules for four architectures
// (x86-64 and AArch64 with RELA, i386 and Arm with REL relocations) and
// three releases.
func TestDebianModules(t *testing.T) {
	d := debs(t)
	for _, tc := range []struct {
		suite, pkg, so   string
		machine          string
		bits             int
		names            []string
		version          uint64
		signature, order string
	}{
		{"bookworm-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so", "x86-64", 64,
			[]string{"ngx_http_echo_module"}, 1022001, compat122, "ngx_http_echo_module ngx_http_copy_filter_module"},
		{"bookworm-arm64", "libnginx-mod-http-echo", "ngx_http_echo_module.so", "aarch64", 64,
			[]string{"ngx_http_echo_module"}, 1022001, compat122, "ngx_http_echo_module ngx_http_copy_filter_module"},
		{"bookworm-i386", "libnginx-mod-http-echo", "ngx_http_echo_module.so", "i386", 32,
			[]string{"ngx_http_echo_module"}, 1022001, compat122x32, "ngx_http_echo_module ngx_http_copy_filter_module"},
		{"bookworm-armhf", "libnginx-mod-http-echo", "ngx_http_echo_module.so", "arm", 32,
			[]string{"ngx_http_echo_module"}, 1022001, compat122x32, "ngx_http_echo_module ngx_http_copy_filter_module"},
		{"bullseye-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so", "x86-64", 64,
			[]string{"ngx_http_echo_module"}, 1018000, compat122, "ngx_http_echo_module ngx_http_copy_filter_module"},
		{"trixie-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so", "x86-64", 64,
			[]string{"ngx_http_echo_module"}, 1026003, compat126, "ngx_http_echo_module ngx_http_copy_filter_module"},
		{"bookworm-amd64", "libnginx-mod-http-ndk", "ndk_http_module.so", "x86-64", 64,
			[]string{"ndk_http_module"}, 1022001, compat122, ""},
		{"bookworm-amd64", "libnginx-mod-stream", "ngx_stream_module.so", "x86-64", 64,
			[]string{"ngx_stream_module", "ngx_stream_core_module", "ngx_stream_log_module", "ngx_stream_proxy_module"}, 1022001, compat122, ""},
	} {
		t.Run(tc.suite+"/"+tc.so, func(t *testing.T) {
			f, err := Open(modulePath(d, tc.suite, tc.pkg, tc.so))
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind != KindModule || f.Machine != tc.machine || f.Bits != tc.bits {
				t.Errorf("kind %s machine %s bits %d", f.Kind, f.Machine, f.Bits)
			}
			if len(f.Modules) < len(tc.names) {
				t.Fatalf("modules = %+v", f.Modules)
			}
			for i, name := range tc.names {
				if m := f.Modules[i]; m.Name != name {
					t.Errorf("module %d = %s, want %s", i, m.Name, name)
				}
			}
			for _, m := range f.Modules {
				if m.Version != tc.version || m.Signature != tc.signature {
					t.Errorf("%s: version %d signature %s, want %d %s", m.Name, m.Version, m.Signature, tc.version, tc.signature)
				}
			}
			if got := strings.Join(f.Order, " "); got != tc.order {
				t.Errorf("order = %q, want %q", got, tc.order)
			}
		})
	}
}

// TestStreamModuleHoldsAll checks every record of a 20-module .so.
func TestStreamModuleHoldsAll(t *testing.T) {
	f, err := Open(modulePath(debs(t), "bookworm-amd64", "libnginx-mod-stream", "ngx_stream_module.so"))
	if err != nil {
		t.Fatal(err)
	}
	// readelf -s: ngx_modules is 168 bytes, 20 pointers and the NULL.
	if len(f.Modules) != 20 || f.Modules[19].Name != "ngx_stream_ssl_preread_module" {
		var names []string
		for _, m := range f.Modules {
			names = append(names, m.Name)
		}
		t.Errorf("%d modules: %v", len(f.Modules), names)
	}
}

// TestDebianExecutables reads stripped nginx binaries: version, signature,
// built-in modules and configure arguments.
func TestDebianExecutables(t *testing.T) {
	d := debs(t)
	bins := map[string]string{
		"arm64": filepath.Join(d, "bookworm-arm64/nginx/usr/sbin/nginx"),
		"armhf": filepath.Join(d, "bookworm-armhf/nginx/usr/sbin/nginx"),
		"i386":  filepath.Join(d, "bookworm-i386/nginx/usr/sbin/nginx"),
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		bins["host"] = "/usr/sbin/nginx"
	} else {
		testenv.Missing(t, "/usr/sbin/nginx", "apt-get install nginx")
	}
	for name, p := range bins {
		t.Run(name, func(t *testing.T) {
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind != KindExecutable || !f.PIE || f.Version != 1022001 || f.Nginx() != "1.22.1" {
				t.Errorf("kind %s pie %v version %d", f.Kind, f.PIE, f.Version)
			}
			want := compat122
			if f.Bits == 32 {
				want = compat122x32
			}
			if f.Signature != want {
				t.Errorf("signature %s, want %s", f.Signature, want)
			}
			if len(f.Modules) < 50 || f.Modules[0].Name != "ngx_core_module" {
				t.Errorf("%d built-in modules, first %+v", len(f.Modules), f.Modules[0])
			}
			if !strings.Contains(f.Configure, "--prefix=/usr/share/nginx") || !strings.Contains(f.Configure, "--with-compat") {
				t.Errorf("configure = %q", f.Configure)
			}
			if !slices.Contains(f.Exports, "ngx_http_core_module") {
				t.Error("ngx_http_core_module not among the exports")
			}
		})
	}
}

// TestStaticExecutableByStrings reads an executable that exports no
// symbols by its strings, as a statically linked nginx is read.
func TestStaticExecutableByStrings(t *testing.T) {
	cc := testenv.Tool(t, "cc", "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "fake.c")
	os.WriteFile(src, []byte(`#include <stdio.h>
static const char version[] = "nginx version: nginx/1.27.4 (nginx-plus-r34)";
static const char sig[] = "8,4,8,0011111111010111011111111111111111";
static const char conf[] = "configure arguments: --prefix=/etc/nginx --with-compat";
int main(void) { puts(version); puts(sig); puts(conf); return 0; }
`), 0o644)
	bin := filepath.Join(dir, "nginx")
	if out, err := exec.Command(cc, "-O0", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	f, err := Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != KindExecutable || f.Nginx() != "1.27.4" || f.Signature != compat126 || f.Configure != "--prefix=/etc/nginx --with-compat" {
		t.Errorf("%+v", f)
	}
}

// TestRELR reads a module linked with packed relative relocations
// (-z pack-relative-relocs, SHT_RELR), as newer toolchains produce.
func TestRELR(t *testing.T) {
	cc := testenv.Tool(t, "cc", "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "m.c")
	// The layout of ngx_module_t's first seven fields, and the arrays
	// nginx's configure generates for a dynamic module.
	os.WriteFile(src, []byte(`typedef unsigned long ngx_uint_t;
typedef struct { ngx_uint_t ctx_index, index; char *name; ngx_uint_t spare0, spare1, version;
  const char *signature; void *rest[16]; } ngx_module_t;
ngx_module_t ngx_a_module = { (ngx_uint_t) -1, (ngx_uint_t) -1, 0, 0, 0, 1029004, "8,4,8,0011111111010111011111111111111111" };
static ngx_module_t ngx_b_module = { (ngx_uint_t) -1, (ngx_uint_t) -1, 0, 0, 0, 1029004, "8,4,8,0011111111010111011111111111111110" };
ngx_module_t *ngx_modules[] = { &ngx_a_module, &ngx_b_module, 0 };
char *ngx_module_names[] = { "ngx_a_module", "ngx_b_module", 0 };
`), 0o644)
	so := filepath.Join(dir, "m.so")
	out, err := exec.Command(cc, "-shared", "-fPIC", "-Wl,-z,pack-relative-relocs", "-o", so, src).CombinedOutput()
	if err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	f, err := Open(so)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Modules) != 2 || f.Modules[0].Name != "ngx_a_module" || f.Modules[1].Name != "ngx_b_module" ||
		f.Modules[1].Version != 1029004 || !strings.HasSuffix(f.Modules[1].Signature, "10") {
		t.Errorf("modules = %+v", f.Modules)
	}
	if !hasSection(t, so, ".relr.dyn") {
		t.Error("the linker made no .relr.dyn: the test does not test RELR")
	}
}

func hasSection(t *testing.T, path, name string) bool {
	out, err := exec.Command("readelf", "-S", "-W", path).CombinedOutput()
	if err != nil {
		testenv.Missing(t, "readelf", "apt-get install binutils")
	}
	return strings.Contains(string(out), name)
}

// TestBadInput: garbage, truncated and non-ELF files are errors.
func TestBadInput(t *testing.T) {
	good, err := os.ReadFile(modulePath(debs(t), "bookworm-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"text":        []byte("load_module modules/x.so;\n"),
		"magic only":  []byte("\x7fELF"),
		"header only": good[:64],
		"half":        good[:len(good)/2],
		"no sections": good[:0x1000],
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Read(bytes.NewReader(data))
			if err == nil {
				t.Fatalf("no error; read %+v", f)
			}
		})
	}
	if _, err := Read(bytes.NewReader([]byte("hello, world\n"))); !errors.Is(err, ErrNotELF) {
		t.Errorf("text: %v, want ErrNotELF", err)
	}
	libc := "/bin/true"
	if _, err := Open(libc); err == nil || !strings.Contains(err.Error(), "not an nginx executable") {
		t.Errorf("%s: %v", libc, err)
	}
}

// FuzzRead feeds mutations of real modules to the reader: it may fail, but
// never panic (Read's recover turns a panic into an error naming it, which
// fails here) or hang. Large inputs make Go's minimizer slow: run it with
// -fuzzminimizetime 2s.
func FuzzRead(f *testing.F) {
	for _, p := range []string{
		filepath.Join(testenv.RepoRoot(), ".cache/mirror/debs/bookworm-amd64/libnginx-mod-http-ndk/usr/lib/nginx/modules/ndk_http_module.so"),
		filepath.Join(testenv.RepoRoot(), ".cache/mirror/debs/bookworm-i386/libnginx-mod-http-echo/usr/lib/nginx/modules/ngx_http_echo_module.so"),
	} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Read(bytes.NewReader(data))
		if err == nil && info == nil {
			t.Fatal("nil file without an error")
		}
		if err != nil && strings.Contains(err.Error(), "panic:") {
			t.Fatal(err)
		}
	})
}
