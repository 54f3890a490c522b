package distrotest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestAPKRepositoryVerifiedWithOpenSSL is issue 23's apk check. Debian
// has no apk-tools, so the index is parsed here and both signatures are
// verified by openssl in a bare debian:13 container: the hello-world
// module is packaged as a signed .apk for alpine-3.22 (an RSA key),
// release --dir --repositories writes apk/alpine-3.22/x86_64/ with the
// package under the name apk fetches and APKINDEX.tar.gz; the index's
// stanza matches the package (C: is the SHA-1 of its control member, S:
// its size), openssl verifies the index's and the package's signatures
// with the published nginx-modbuild.rsa.pub, and refuses a tampered index.
func TestAPKRepositoryVerifiedWithOpenSSL(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	testenv.Tool(t, "cc", "gcc")
	ctx := context.Background()
	work, cfg, key := helloOnHost(t)
	pub := filepath.Join(work, "pub")
	runTool(t, "build", "--config", cfg, "--nginx", "1.26.3", "--distro", "alpine-3.22", "--arch", "amd64", "--mirror", mirror, "--smoke=false",
		"--target-nginx", "none", "--packages", "--out", filepath.Join(work, "dist"), "--cache-dir", t.TempDir())
	runTool(t, "release", "--dir", pub, "--dist", filepath.Join(work, "dist"), "--repositories", "--signing-key", key)
	repo := filepath.Join(pub, "apk", "alpine-3.22", "x86_64")
	index, err := os.ReadFile(filepath.Join(repo, "APKINDEX.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	apks, _ := filepath.Glob(filepath.Join(repo, "*.apk"))
	if len(apks) != 1 || filepath.Base(apks[0]) != "nginx-module-hello-world-1.2.3+nginx1.26.3-r1.apk" && !strings.HasPrefix(filepath.Base(apks[0]), "nginx-module-hello-world-") {
		t.Fatalf("packages in %s: %v", repo, apks)
	}
	pkg, _ := os.ReadFile(apks[0])
	pkgMembers := gzipMembers(t, pkg)
	idxMembers := gzipMembers(t, index)
	if len(idxMembers) != 2 || len(pkgMembers) != 3 {
		t.Fatalf("gzip members: index %d (want signature, index), package %d (want signature, control, data)", len(idxMembers), len(pkgMembers))
	}
	text := string(tarFile(t, idxMembers[1], "APKINDEX"))
	sum := sha1.Sum(pkgMembers[1])
	for _, want := range []string{"C:Q1" + base64.StdEncoding.EncodeToString(sum[:]) + "\n", "P:nginx-module-hello-world\n",
		"A:x86_64\n", "S:" + strconv.Itoa(len(pkg)) + "\n", "D:nginx~1.26.3\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("APKINDEX lacks %q:\n%s", want, text)
		}
	}
	if v := "V:" + strings.TrimSuffix(strings.TrimPrefix(filepath.Base(apks[0]), "nginx-module-hello-world-"), ".apk") + "\n"; !strings.Contains(text, v) {
		t.Errorf("the package's file name does not match its index version %q:\n%s", v, text)
	}
	check := filepath.Join(work, "check")
	os.MkdirAll(check, 0o755)
	os.WriteFile(filepath.Join(check, "index.sig"), tarFile(t, idxMembers[0], ".SIGN.RSA.nginx-modbuild.rsa.pub"), 0o644)
	os.WriteFile(filepath.Join(check, "index.gz"), idxMembers[1], 0o644)
	os.WriteFile(filepath.Join(check, "pkg.sig"), tarFile(t, pkgMembers[0], ".SIGN.RSA.nginx-modbuild.rsa.pub"), 0o644)
	os.WriteFile(filepath.Join(check, "control.gz"), pkgMembers[1], 0o644)
	tampered := append([]byte{}, idxMembers[1]...)
	tampered[len(tampered)/2] ^= 1
	os.WriteFile(filepath.Join(check, "tampered.gz"), tampered, 0o644)

	c := testenv.StartContainer(t, "debian:13", testenv.Mount{Host: work, Container: work, ReadOnly: true})
	c.Shell(ctx, "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends openssl >/dev/null")
	k := filepath.Join(pub, "nginx-modbuild.rsa.pub")
	for _, pair := range [][2]string{{"index.sig", "index.gz"}, {"pkg.sig", "control.gz"}} {
		out := c.Shell(ctx, "openssl dgst -sha1 -verify "+k+" -signature "+filepath.Join(check, pair[0])+" "+filepath.Join(check, pair[1]))
		if !strings.Contains(out, "Verified OK") {
			t.Errorf("openssl on %s: %s", pair[1], out)
		}
	}
	out, err := c.Exec(ctx, nil, "openssl", "dgst", "-sha1", "-verify", k, "-signature", filepath.Join(check, "index.sig"), filepath.Join(check, "tampered.gz"))
	if err == nil || !strings.Contains(out, "Verification failure") {
		t.Errorf("openssl accepted a tampered index: %v %s", err, out)
	}
}

// gzipMembers splits concatenated gzip members (as apk files are made).
func gzipMembers(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	r := bytes.NewReader(data)
	for r.Len() > 0 {
		start := len(data) - r.Len()
		gz, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		gz.Multistream(false)
		if _, err := io.Copy(io.Discard, gz); err != nil {
			t.Fatal(err)
		}
		out = append(out, data[start:len(data)-r.Len()])
	}
	return out
}

// tarFile is a file of the tar in one gzip member.
func tarFile(t *testing.T, member []byte, name string) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(member))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the member: %v", name, err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return b
		}
	}
}
