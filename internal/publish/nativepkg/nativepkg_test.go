package nativepkg

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// echoSO is Debian's real ngx_http_echo_module.so (scripts/debs).
func echoSO(t *testing.T) []byte {
	t.Helper()
	mirror := testenv.Mirror(t, "debs/bookworm-amd64/libnginx-mod-http-echo/usr/lib/nginx/modules/ngx_http_echo_module.so")
	b, err := os.ReadFile(filepath.Join(mirror, "debs/bookworm-amd64/libnginx-mod-http-echo/usr/lib/nginx/modules/ngx_http_echo_module.so"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func spec(t *testing.T, d string, nginx string) Spec {
	dist, ok := distro.Lookup(d)
	if !ok {
		t.Fatalf("no distro %s", d)
	}
	return Spec{Module: "ngx_http_echo_module", SO: echoSO(t), Nginx: nginx, Distro: dist, Arch: "amd64", Version: "0.63",
		Requires: []string{"ndk_http_module"}, Maintainer: "Jane <jane@example.com>", Homepage: "https://example.com/echo", License: "BSD-2-Clause"}
}

func write(t *testing.T, p *Package) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), p.File)
	if err := os.WriteFile(f, p.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDeb(t *testing.T) {
	t.Parallel()
	dpkg := testenv.Tool(t, "dpkg-deb", "dpkg")
	p, err := Build(spec(t, "debian-12", "1.22.1"))
	if err != nil {
		t.Fatal(err)
	}
	f := write(t, p)
	if p.File != "nginx-module-echo_0.63+nginx1.22.1-1_amd64.deb" {
		t.Errorf("file %s", p.File)
	}
	info, err := exec.Command(dpkg, "-I", f).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -I: %v\n%s", err, info)
	}
	for _, want := range []string{" Package: nginx-module-echo\n", " Version: 0.63+nginx1.22.1-1\n", " Architecture: amd64\n",
		" Depends: nginx-abi-1.22.1-7, nginx-module-ndk-http\n", " Homepage: https://example.com/echo\n", " postinst", " prerm",
		// Debian's own package of echo ships the same .so: apt swaps them.
		" Conflicts: libnginx-mod-http-echo\n", " Replaces: libnginx-mod-http-echo\n", " Provides: libnginx-mod-http-echo\n"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	list, _ := exec.Command(dpkg, "-c", f).CombinedOutput()
	for _, want := range []string{"./usr/lib/nginx/modules/ngx_http_echo_module.so", "./usr/share/nginx/modules-available/mod-http-echo.conf"} {
		if !strings.Contains(string(list), want) {
			t.Errorf("dpkg-deb -c lacks %s:\n%s", want, list)
		}
	}
	// A name template names the required module's package the same way.
	named := spec(t, "debian-12", "1.22.1")
	named.Name = "libnginx-mod-http-{short}"
	if p, err := Build(named); err != nil || p.Name != "libnginx-mod-http-echo" || p.Depends[1] != "libnginx-mod-http-ndk-http" {
		t.Errorf("template: %v %+v", err, p)
	} else if info, _ := exec.Command(dpkg, "-I", write(t, p)).CombinedOutput(); strings.Contains(string(info), "Conflicts:") {
		t.Errorf("a package named as Debian's conflicts with itself:\n%s", info)
	}
	// Not the distro's packaged version: an exact upstream version range.
	p, err = Build(spec(t, "debian-12", "1.26.3"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Depends, ", "); got != "nginx (>= 1.26.3), nginx (<< 1.26.4~), nginx-module-ndk-http" {
		t.Errorf("depends %s", got)
	}
	// Built from Debian 13's nginx-dev tree: the ABI its abisubstvars
	// names (the table has none for debian-13).
	abi := spec(t, "debian-13", "1.26.3")
	abi.ABI = "nginx-abi-1.26.3-1"
	if p, err := Build(abi); err != nil || strings.Join(p.Depends, ", ") != "nginx-abi-1.26.3-1, nginx-module-ndk-http" {
		t.Errorf("with the tree's ABI: %v %v", err, p.Depends)
	}
	// A module that needs nginx's own stream .so: Debian's package of it,
	// and a snippet read after its 50-mod-stream.conf.
	stream := spec(t, "debian-12", "1.22.1")
	stream.NginxModules = []string{"ngx_stream_module"}
	stream.Runtime = []string{"libbrotli1"} // the packages of the libraries it links
	p, err = Build(stream)
	if err != nil || !slices.Contains(p.Depends, "libnginx-mod-stream") || !slices.Contains(p.Depends, "libbrotli1") {
		t.Fatalf("with nginx modules: %v %v", err, p.Depends)
	}
	if info, _ := exec.Command(dpkg, "-I", write(t, p), "postinst").CombinedOutput(); !strings.Contains(string(info), "/etc/nginx/modules-enabled/70-mod-http-echo.conf") {
		t.Errorf("postinst does not enable 70-mod-http-echo.conf:\n%s", info)
	}
}

func TestRPM(t *testing.T) {
	t.Parallel()
	rpm := testenv.Tool(t, "rpm", "rpm")
	p, err := Build(spec(t, "rocky-9", "1.20.1"))
	if err != nil {
		t.Fatal(err)
	}
	f := write(t, p)
	out, err := exec.Command(rpm, "-qpi", "--requires", f).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qpi: %v\n%s", err, out)
	}
	for _, want := range []string{"Name        : nginx-module-echo", "Version     : 0.63+nginx1.20.1", "Release     : 1",
		"Architecture: x86_64", "License     : BSD-2-Clause", "\nnginx >= 1:1.20.1\n", "\nnginx < 1:1.20.2\n", "\nnginx-module-ndk-http\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rpm -qpi --requires lacks %q:\n%s", want, out)
		}
	}
	if out, _ := exec.Command(rpm, "-qp", "--conflicts", f).CombinedOutput(); strings.TrimSpace(string(out)) != "nginx-mod-http-echo" {
		t.Errorf("rpm -qp --conflicts: %q, want nginx-mod-http-echo", out)
	}
	files, _ := exec.Command(rpm, "-qpl", f).CombinedOutput()
	for _, want := range []string{"/usr/lib64/nginx/modules/ngx_http_echo_module.so", "/usr/share/nginx/modules/mod-http-echo.conf"} {
		if !strings.Contains(string(files), want) {
			t.Errorf("rpm -qpl lacks %s:\n%s", want, files)
		}
	}
}

func TestAPK(t *testing.T) {
	t.Parallel()
	p, err := Build(spec(t, "alpine-3.22", "1.28.0"))
	if err != nil {
		t.Fatal(err)
	}
	info, names := readAPK(t, p.Data)
	for _, want := range []string{"pkgname = nginx-module-echo", "pkgver = 0.63_p1028000-r1", "arch = x86_64",
		"depend = nginx~1.28.0", "depend = nginx-module-ndk-http", "license = BSD-2-Clause"} {
		if !slices.Contains(info, want) {
			t.Errorf(".PKGINFO lacks %q:\n%s", want, strings.Join(info, "\n"))
		}
	}
	for _, want := range []string{"usr/lib/nginx/modules/ngx_http_echo_module.so", "etc/nginx/modules/echo.conf", ".post-install"} {
		if !slices.Contains(names, want) {
			t.Errorf("apk lacks %s: %v", want, names)
		}
	}
}

// readAPK reads an .apk (gzip streams of tar: signature, control, data)
// and returns .PKGINFO's lines and every file name.
func readAPK(t *testing.T, data []byte) (info, names []string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == ".PKGINFO" {
			sc := bufio.NewScanner(tr)
			for sc.Scan() {
				info = append(info, sc.Text())
			}
		}
	}
	return info, names
}

func TestVersionOrders(t *testing.T) {
	t.Parallel()
	if v := Version("deb", "0.0.0+git1a2b3c4", "1.26.3"); v != "0.0.0+git1a2b3c4+nginx1.26.3" {
		t.Errorf("deb %s", v)
	}
	if v := Version("apk", "0.33", "1.26.3"); v != "0.33_p1026003" {
		t.Errorf("apk %s", v)
	}
	dpkg := testenv.Tool(t, "dpkg", "dpkg")
	// Each pair: the first is older.
	for _, p := range [][2]string{{Version("deb", "0.63", "1.22.1"), Version("deb", "0.63", "1.26.3")},
		{Version("deb", "0.63", "1.26.3"), Version("deb", "0.64", "1.22.1")}} {
		if err := exec.Command(dpkg, "--compare-versions", p[0], "lt", p[1]).Run(); err != nil {
			t.Errorf("dpkg: %s is not older than %s", p[0], p[1])
		}
	}
}
