package cell

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// fakeBuild writes what configure generates that the key reads.
func fakeBuild(t *testing.T, root, configure, define string) string {
	t.Helper()
	b := filepath.Join(root, "objs")
	os.MkdirAll(b, 0o755)
	os.WriteFile(filepath.Join(b, "Makefile"), []byte("CC =\tcc\nCFLAGS =  -pipe -O -W\nLINK =\t$(CC)\n\nobjs/nginx:\tobjs/src/core/nginx.o \\\n\t"+root+"/objs/ngx_modules.o\n\t$(LINK) -o objs/nginx -lpcre2-8\n\nmodules:\n\tcc -o objs/ngx_http_x_module.so "+root+"/x.c\n"), 0o644)
	os.WriteFile(filepath.Join(b, "ngx_auto_config.h"), []byte("#define NGX_CONFIGURE \""+configure+"\"\n"+define+"\n"), 0o644)
	os.WriteFile(filepath.Join(b, "ngx_auto_headers.h"), []byte("#define NGX_HAVE_UNISTD_H 1\n"), 0o644)
	os.WriteFile(filepath.Join(b, "ngx_modules.c"), []byte("ngx_core_module,\n"), 0o644)
	return b
}

func TestSmokeKey(t *testing.T) {
	t.Parallel()
	c := manifest.Cell{Nginx: "1.26.3", SourceSHA256: "abc", Compiler: "gcc 12", Distro: "debian-12", Arch: "amd64"}
	key := func(root, configure, define string, c manifest.Cell) string {
		k, err := smokeKeyOf(root, fakeBuild(t, root, configure, define), c)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key(t.TempDir(), "--with-compat --add-dynamic-module=/tmp/a", "#define NGX_PCRE2 1", c)
	// Another build directory and other dynamic modules: the same binary.
	if k := key(t.TempDir(), "--with-compat --add-dynamic-module=/tmp/b --add-dynamic-module=/tmp/c", "#define NGX_PCRE2 1", c); k != base {
		t.Error("the key depends on the build path or the dynamic modules")
	}
	// A switch a module's config turned on: another binary.
	if k := key(t.TempDir(), "--with-compat", "#define NGX_PCRE2 1\n#define NGX_OPENSSL 1", c); k == base {
		t.Error("the key ignores a feature switched on")
	}
	for _, other := range []manifest.Cell{
		{Nginx: "1.26.2", SourceSHA256: "abc", Compiler: "gcc 12", Distro: "debian-12", Arch: "amd64"},
		{Nginx: "1.26.3", SourceSHA256: "abc", Compiler: "gcc 13", Distro: "debian-12", Arch: "amd64"},
		{Nginx: "1.26.3", SourceSHA256: "abc", Compiler: "gcc 12", Distro: "alpine-3.22", Arch: "amd64"},
		{Nginx: "1.26.3", SourceSHA256: "abc", Compiler: "gcc 12", Distro: "debian-12", Arch: "arm64"},
	} {
		if k := key(t.TempDir(), "--with-compat", "#define NGX_PCRE2 1", other); k == base {
			t.Errorf("the key ignores %+v", other)
		}
	}
}

// TestSmokeNginxCached builds the same cell twice with a smoke cache: the
// second build takes the nginx binary from the cache (make builds only
// the modules) and the smoke test still passes with it.
func TestSmokeNginxCached(t *testing.T) {
	mirror := prerequisites(t)
	cache := t.TempDir()
	var logs []string
	for i := 0; i < 2; i++ {
		o := options(t, mirror, "1.22.1", helloWorld())
		var buf bytes.Buffer
		o.Log = &Log{W: &buf}
		o.Smoke = &Smoke{Config: `location = /hello { hello_world "Hello"; }`, Request: "/hello"}
		o.SmokeCache = cache
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("build %d: %v\n%s", i, err, buf.String())
		}
		if len(res.Manifest.Entries) != 1 || len(res.Manifest.Cells[0].Failures) != 0 {
			t.Fatalf("build %d: %+v", i, res.Manifest)
		}
		logs = append(logs, buf.String())
	}
	if strings.Contains(logs[0], "from the cache") || !strings.Contains(logs[1], "smoke nginx: from the cache") {
		t.Errorf("first build log:\n%s\nsecond:\n%s", logs[0], logs[1])
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 1 {
		t.Errorf("cache holds %d binaries, want 1", len(entries))
	}
}

// TestZombieIsStopped: an exited process nobody reaped (the nginx master
// under a job container's PID 1) counts as stopped.
func TestZombieIsStopped(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for !zombie(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d exited but is not seen as a zombie", cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if zombie(os.Getpid()) {
		t.Error("the running test process is seen as a zombie")
	}
}

// TestSmokeCacheRefusesReplacedBinary is issue 21 item 3: a cached smoke
// nginx replaced by a shell script (with or without its stored hash) or
// by another version's binary is not run: restore refuses it and the
// build makes the binary again. Debian's nginx 1.22.1 stands for a built
// one.
func TestSmokeCacheRefusesReplacedBinary(t *testing.T) {
	t.Parallel()
	debian := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	bin, err := os.ReadFile(debian)
	if err != nil {
		t.Fatal(err)
	}
	cache, build := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(build, "nginx"), bin, 0o755)
	if err := storeSmoke(cache, "k", build); err != nil {
		t.Fatal(err)
	}
	restore := func(nginx string) (bool, string) {
		return restoreSmoke(cache, "k", t.TempDir(), nginx)
	}
	if ok, why := restore("1.22.1"); !ok {
		t.Fatalf("the stored binary was refused: %s", why)
	}
	if ok, why := restore("1.26.3"); ok || !strings.Contains(why, "not an nginx 1.26.3 executable") {
		t.Errorf("another version's binary: %v %q", ok, why)
	}
	script := []byte("#!/bin/sh\necho 'nginx: configuration file test is successful'\n")
	os.WriteFile(filepath.Join(cache, "k", "nginx"), script, 0o755)
	if ok, why := restore("1.22.1"); ok || !strings.Contains(why, "SHA-256") {
		t.Errorf("a replaced binary: %v %q", ok, why)
	}
	sum := sha256.Sum256(script)
	os.WriteFile(filepath.Join(cache, "k", "nginx.sha256"), []byte(hex.EncodeToString(sum[:])), 0o644)
	if ok, why := restore("1.22.1"); ok || !strings.Contains(why, "not an nginx") {
		t.Errorf("a script with its own hash: %v %q", ok, why)
	}
}
