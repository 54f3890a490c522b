package modinfo

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// thousand copies real modules (Debian's echo, ndk, set-misc and the
// 20-module stream .so, four architectures) to 1,000 files.
func thousand(b *testing.B) []string {
	b.Helper()
	d := debs(b)
	var seeds []string
	for _, s := range []struct{ suite, pkg, so string }{
		{"bookworm-amd64", "libnginx-mod-http-echo", "ngx_http_echo_module.so"},
		{"bookworm-amd64", "libnginx-mod-http-ndk", "ndk_http_module.so"},
		{"bookworm-amd64", "libnginx-mod-http-set-misc", "ngx_http_set_misc_module.so"},
		{"bookworm-amd64", "libnginx-mod-stream", "ngx_stream_module.so"},
		{"bookworm-arm64", "libnginx-mod-http-echo", "ngx_http_echo_module.so"},
		{"bookworm-i386", "libnginx-mod-http-echo", "ngx_http_echo_module.so"},
		{"trixie-amd64", "libnginx-mod-stream", "ngx_stream_module.so"},
	} {
		seeds = append(seeds, modulePath(d, s.suite, s.pkg, s.so))
	}
	dir := b.TempDir()
	var files []string
	for i := 0; i < 1000; i++ {
		data, err := os.ReadFile(seeds[i%len(seeds)])
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("m%04d.so", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

// BenchmarkInspect1000 reads the modules of 1,000 .so files.
func BenchmarkInspect1000(b *testing.B) {
	files := thousand(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		for _, f := range files {
			info, err := Open(f)
			if err != nil {
				b.Fatal(err)
			}
			n += len(info.Modules)
		}
		if n < 1000 {
			b.Fatalf("%d modules", n)
		}
	}
}

// BenchmarkReadFiles1000 is the baseline: only reading the same files.
func BenchmarkReadFiles1000(b *testing.B) {
	files := thousand(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			if _, err := os.ReadFile(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}
