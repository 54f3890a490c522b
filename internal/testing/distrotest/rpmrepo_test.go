package distrotest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestRPMRepositoryWithDebianTools is issue 23's rpm check, with the real
// tools Debian 12 has (in its bare container, nothing on the host): the
// hello-world module is packaged as a signed .rpm for rocky-9 (build
// --packages, unsigned; release signs it), release --dir --repositories indexes it with
// createrepo_c and signs repomd.xml; rpm --checksig accepts the package
// with the published key, dnf (--repofrompath, an empty --installroot,
// gpgcheck and repo_gpgcheck on) finds it; a second publish changes no
// file; a tampered repomd.xml is refused by dnf.
func TestRPMRepositoryWithDebianTools(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	testenv.Tool(t, "cc", "gcc")
	ctx := context.Background()
	work, cfg, key := helloOnHost(t)
	runTool(t, "build", "--config", cfg, "--nginx", "1.22.1", "--distro", "rocky-9", "--arch", "amd64", "--mirror", mirror,
		"--smoke=false", "--target-nginx", "none", "--packages", "--out", filepath.Join(work, "dist"), "--cache-dir", t.TempDir())

	pub := filepath.Join(work, "pub")
	c := testenv.StartContainer(t, "debian:12",
		testenv.Mount{Host: testenv.ToolBinary(t), Container: "/usr/local/bin/nginx-modbuild", ReadOnly: true},
		testenv.Mount{Host: work, Container: work})
	c.Shell(ctx, "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends createrepo-c dnf rpm >/dev/null")
	publish := "nginx-modbuild release --dir " + pub + " --dist " + filepath.Join(work, "dist") + " --repositories --signing-key " + key
	c.Shell(ctx, publish)
	repo := filepath.Join(pub, "rpm", "rocky-9", "x86_64")
	if _, err := os.Stat(filepath.Join(repo, "repodata", "repomd.xml.asc")); err != nil {
		t.Fatalf("no signed repomd.xml: %v", err)
	}
	sig := c.Shell(ctx, "rpm --import "+pub+"/nginx-modbuild.asc && rpm --checksig -v "+repo+"/*.rpm")
	if !strings.Contains(sig, "Signature, key ID") || !strings.Contains(sig, "OK") || strings.Contains(sig, "NOT OK") {
		t.Errorf("rpm --checksig:\n%s", sig)
	}
	dnf := "dnf -y -q --installroot=/tmp/root --releasever=9 --setopt=reposdir=/dev/null --repofrompath=nmb,file://" + repo +
		" --setopt=nmb.gpgcheck=1 --setopt=nmb.repo_gpgcheck=1 --setopt=nmb.skip_if_unavailable=0 --setopt=nmb.gpgkey=file://" + pub + "/nginx-modbuild.asc" +
		" repoquery --repo=nmb --qf '%{name} %{version}-%{release} %{arch}' nginx-module-hello-world"
	if out := c.Shell(ctx, "rm -rf /tmp/root && "+dnf); !strings.Contains(out, "nginx-module-hello-world 1.2.3+nginx1.22.1-1 x86_64") {
		t.Errorf("dnf repoquery:\n%s", out)
	}
	before := tree(t, pub)
	c.Shell(ctx, publish)
	after := tree(t, pub)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("a second identical publish changed %s", p)
		}
	}
	// repomd.xml tampered with: its signature no longer holds.
	md := filepath.Join(repo, "repodata", "repomd.xml")
	b, _ := os.ReadFile(md)
	os.WriteFile(md, bytes.Replace(b, []byte("<revision>"), []byte("<revision>1"), 1), 0o644)
	out, err := c.Exec(ctx, nil, "sh", "-c", "rm -rf /tmp/root && "+dnf)
	if err == nil || !strings.Contains(out, "repomd.xml GPG signature verification error") {
		t.Errorf("dnf accepted a tampered repomd.xml: %v\n%s", err, testenv.Tail(out, 15))
	}
	t.Logf("dnf on the tampered repository:\n%s", testenv.Tail(out, 6))
}

// tree is every file under root with its bytes and time.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = fi.ModTime().String() + " " + string(b)
		}
		return nil
	})
	return out
}

// rsaKey is a fresh armored RSA-3072 private key: rpm's own OpenPGP
// parser checks it (a key an rpm signer would use).
func rsaKey(t *testing.T) []byte {
	t.Helper()
	e, err := openpgp.NewEntity("nginx-modbuild test repository", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 3072})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := armor.Encode(&b, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

// helloOnHost sets up a build of the hello-world example on this host:
// its sources, a config (the pinned nginx checksums, package version
// 1.2.3) and a fresh RSA signing key, under a new work directory.
func helloOnHost(t *testing.T) (work, cfg, key string) {
	t.Helper()
	work = t.TempDir()
	src := filepath.Join(work, "src", "hello-world")
	copyHello(t, src)
	cfg = filepath.Join(work, "hello.yml")
	os.WriteFile(cfg, []byte("nginx:\n  sha256:\n"+pinnedSHA256+"modules: [{path: "+src+"}]\npackages: {version: 1.2.3}\n"), 0o644)
	key = filepath.Join(work, "key.asc")
	os.WriteFile(key, rsaKey(t), 0o600)
	return work, cfg, key
}

// copyHello copies examples/hello-world into dir.
func copyHello(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for _, f := range []string{"config", "ngx_http_hello_world_module.c"} {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "examples", "hello-world", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
}

// runTool runs the tool's static binary on this host.
func runTool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.ToolBinary(t), args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nginx-modbuild %v: %v\n%s", args, err, testenv.Tail(string(out), 30))
	}
	return string(out)
}
