package distrotest

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// arm64Image is Debian 12 for arm64 as Docker Hub names it, made by
// scripts/images with debootstrap --arch=arm64 under qemu-user-static.
const arm64Image = "arm64v8/debian:12"

// TestArm64Cell is issue 34's item 8: one arm64 cell end to end, under
// qemu-user (binfmt_misc) as a GitHub arm64 runner would run it natively.
// The tool built for GOARCH=arm64 builds hello-world for Debian 12's
// nginx 1.22.1 in the bare arm64 image with --install-deps --packages:
// it installs the distro's arm64 nginx, configures like it, checks the
// .so's module signature is that binary's and loads it there (the
// smoke). The .so is then read here (an AArch64 ELF whose signature is
// the one read from Debian's arm64 nginx binary), and the .deb, published
// signed, is installed with apt from the repository into a fresh bare
// arm64 container, where Debian's own arm64 nginx, with nothing else
// installed, loads it and serves a request through the module.
func TestArm64Cell(t *testing.T) {
	testenv.Image(t, arm64Image)
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	key := signingKey(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	copyHello(t, filepath.Join(src, "hello-world"))
	writeConfig(t, filepath.Join(work, "hello.yml"), []module{{name: "hello-world"}}, `location = /t { hello_world "hi"; }`, "/t", "")
	c := testenv.StartContainer(t, arm64Image,
		testenv.Mount{Host: testenv.ToolBinaryFor(t, "arm64"), Container: "/usr/local/bin/nginx-modbuild", ReadOnly: true},
		testenv.Mount{Host: mirror, Container: "/mirror", ReadOnly: true},
		testenv.Mount{Host: src, Container: "/src"},
		testenv.Mount{Host: work, Container: "/work"})
	ctx := context.Background()
	if got := strings.TrimSpace(c.Shell(ctx, "uname -m; dpkg --print-architecture")); got != "aarch64\narm64" {
		t.Fatalf("the arm64 image runs as %q, want aarch64/arm64 (is binfmt qemu-aarch64 enabled? scripts/images)", got)
	}
	out, err := build(c, "hello.yml", "1.22.1", "debian-12", "dist", "--packages", "--arch", "arm64")
	if err != nil {
		t.Fatalf("build --packages in %s: %v\n%s", arm64Image, err, testenv.Tail(out, 40))
	}
	t.Logf("the arm64 cell:\n%s", testenv.Tail(out, 25))
	m := cellManifest(t, filepath.Join(work, "dist"))
	var so string
	for _, e := range m.Entries {
		if e.Kind == "" {
			so = e.File
		}
	}
	if so == "" {
		t.Fatalf("no .so in the manifest: %+v", m.Entries)
	}
	info, err := modinfo.Open(filepath.Join(work, "dist", so))
	if err != nil {
		t.Fatal(err)
	}
	if info.Machine != "aarch64" || len(info.Modules) == 0 || info.Modules[0].Version != 1022001 {
		t.Fatalf("%s: arch %q, modules %+v; want an AArch64 .so of a module for nginx 1.22.1", so, info.Machine, info.Modules)
	}
	// The signature Debian's arm64 nginx has, read from that binary.
	c.Shell(ctx, "cp /usr/sbin/nginx /work/target-nginx")
	target, err := modinfo.Open(filepath.Join(work, "target-nginx"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s %s; Debian's arm64 nginx: %s %s %s", so, info.Machine, info.Modules[0].Signature, target.Machine, target.Nginx(), target.Signature)
	if target.Machine != "aarch64" || target.Signature != info.Modules[0].Signature {
		t.Errorf("the .so's signature %s is not Debian's arm64 nginx's %s (%s)", info.Modules[0].Signature, target.Signature, target.Machine)
	}
	if !strings.Contains(out, "module signature "+info.Modules[0].Signature+": the target nginx's") {
		t.Errorf("the cell did not prove the .so's signature against the target nginx:\n%s", testenv.Tail(out, 40))
	}

	// The package, signed and published, installed with apt.
	keyFile := filepath.Join(work, "key.asc")
	os.WriteFile(keyFile, key, 0o600)
	pub := filepath.Join(t.TempDir(), "pub")
	runTool(t, "release", "--dir", pub, "--dist", filepath.Join(work, "dist"), "--repositories", "--signing-key", keyFile)
	var published []string
	filepath.WalkDir(pub, func(p string, _ fs.DirEntry, _ error) error {
		if strings.HasSuffix(p, ".deb") {
			published = append(published, strings.TrimPrefix(p, pub+"/"))
		}
		return nil
	})
	if len(published) != 1 || !strings.HasSuffix(published[0], "_arm64.deb") {
		t.Fatalf("published %v, want one _arm64.deb", published)
	}
	if packages, _ := os.ReadFile(filepath.Join(pub, "dists", "debian-12", "main", "binary-arm64", "Packages")); !strings.Contains(string(packages), "Architecture: arm64") {
		t.Errorf("the repository's binary-arm64/Packages lists no arm64 package:\n%s", packages)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	defer srv.Close()
	installFromRepository(t, arm64Image, "debian-12", srv.URL)
}
