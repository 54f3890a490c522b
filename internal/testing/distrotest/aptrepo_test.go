package distrotest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestAptRepositoryInBareDebian is issue 23's apt acceptance: for each of
// Debian 11, 12 and 13, the hello-world module is built as a package for
// the release's own nginx in its bare container, published with release
// --dir --repositories (signed), served from a loopback HTTP server, and
// in a fresh bare container of that release, set up exactly as the
// README says: apt-get install nginx-module-hello-world brings the
// distro's nginx, nginx -t passes and a request through the module
// answers. A repository whose InRelease was tampered with is refused.
func TestAptRepositoryInBareDebian(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.18.0.tar.gz")
	key := signingKey(t)
	for _, r := range []struct{ image, distro, nginx string }{
		{"debian:11", "debian-11", "1.18.0"},
		{"debian:12", "debian-12", "1.22.1"},
		{"debian:13", "debian-13", "1.26.3"},
	} {
		t.Run(r.distro, func(t *testing.T) {
			work := t.TempDir()
			src := filepath.Join(work, "src")
			copyHello(t, filepath.Join(src, "hello-world"))
			writeConfig(t, filepath.Join(work, "hello.yml"), []module{{name: "hello-world"}},
				`location = /t { hello_world "hi"; }`, "/t", "")
			c := toolContainer(t, r.image, mirror, src, work)
			keyFile := filepath.Join(work, "key.asc")
			os.WriteFile(keyFile, key, 0o600)
			// build holds no key (it runs module code): its package is
			// unsigned, and release signs it (debsigs' _gpgorigin) before
			// it is published; dpkg installs such a .deb.
			if out, err := build(c, "hello.yml", r.nginx, r.distro, "dist", "--packages"); err != nil {
				t.Fatalf("build --packages: %v\n%s", err, testenv.Tail(out, 40))
			}
			debs, _ := filepath.Glob(filepath.Join(work, "dist", "*.deb"))
			if len(debs) != 1 {
				t.Fatalf("packages built: %v", debs)
			}
			if deb, _ := os.ReadFile(debs[0]); bytes.Contains(deb, []byte("_gpgorigin")) {
				t.Errorf("build signed %s: it holds no key", debs[0])
			}
			pub := filepath.Join(t.TempDir(), "pub")
			runTool(t, "release", "--dir", pub, "--dist", filepath.Join(work, "dist"), "--repositories", "--signing-key", keyFile)
			published, _ := filepath.Glob(filepath.Join(pub, "pool", "*", "*.deb"))
			if len(published) == 0 {
				published, _ = filepath.Glob(filepath.Join(pub, "*.deb"))
			}
			if len(published) == 0 {
				t.Fatalf("no .deb published in %s", pub)
			}
			for _, f := range published {
				if deb, _ := os.ReadFile(f); !bytes.Contains(deb, []byte("_gpgorigin")) || !bytes.Contains(deb, []byte("BEGIN PGP SIGNATURE")) {
					t.Errorf("%s was published without its _gpgorigin signature", f)
				}
			}
			srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
			defer srv.Close()
			installFromRepository(t, r.image, r.distro, srv.URL)

			// InRelease tampered with: apt refuses the repository.
			in := filepath.Join(pub, "dists", r.distro, "InRelease")
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(in, bytes.Replace(b, []byte("Suite: "+r.distro), []byte("Suite: "+r.distro+"x"), 1), 0o644)
			os.Remove(filepath.Join(pub, "dists", r.distro, "Release.gpg"))
			c2 := testenv.StartContainer(t, r.image)
			out, err := c2.Exec(context.Background(), nil, "sh", "-ec", setupLines(srv.URL, r.distro, true)+"\napt-get update")
			if err == nil || !(strings.Contains(out, "NO_PUBKEY") || strings.Contains(out, "BADSIG") || strings.Contains(out, "not signed") ||
				strings.Contains(out, "invalid") || strings.Contains(out, "Bad signature")) {
				t.Errorf("apt accepted a tampered InRelease: %v\n%s", err, testenv.Tail(out, 20))
			}
			t.Logf("%s: apt-get update of the tampered repository:\n%s", r.distro, testenv.Tail(out, 6))
		})
	}
}

// setupLines are the README's lines for adding the repository at url
// (the curl install before them is what a bare image lacks).
func setupLines(url, suite string, withCurl bool) string {
	pre := ""
	if withCurl {
		pre = "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends curl >/dev/null\n"
	}
	// The archive cache is kept between runs (testenv's apt slots), and
	// apt takes a cached .deb of the same name and size without checking
	// its hash: a package of ours from an earlier run, same version,
	// other bytes, would be installed instead of this run's.
	return pre + fmt.Sprintf(`rm -f /var/cache/apt/archives/nginx-module-*.deb
install -d -m 0755 /etc/apt/keyrings
curl -fsSL %[1]s/nginx-modbuild.gpg -o /etc/apt/keyrings/nginx-modbuild.gpg
echo "deb [signed-by=/etc/apt/keyrings/nginx-modbuild.gpg] %[1]s %[2]s main" > /etc/apt/sources.list.d/nginx-modbuild.list`, url, suite)
}

// installFromRepository adds the repository in a fresh container of
// image, installs the module's package and asks nginx through it.
func installFromRepository(t *testing.T, image, suite, url string) {
	t.Helper()
	ctx := context.Background()
	c := testenv.StartContainer(t, image)
	// No service starts in the container (testenv's policy-rc.d): nginx
	// binds nothing on the host's network until the test starts it on a
	// port of its own.
	c.Shell(ctx, setupLines(url, suite, true))
	out := c.Shell(ctx, "apt-get update -q && apt-get install -y -q nginx-module-hello-world 2>&1")
	t.Logf("%s: apt-get install nginx-module-hello-world:\n%s", image, testenv.Tail(out, 12))
	for _, want := range []string{"nginx-module-hello-world", "Setting up nginx-module-hello-world"} {
		if !strings.Contains(out, want) {
			t.Errorf("apt-get install lacks %q:\n%s", want, testenv.Tail(out, 30))
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	c.Shell(ctx, fmt.Sprintf(`rm -f /etc/nginx/sites-enabled/default
echo 'server { listen 127.0.0.1:%d; location = /hello { hello_world "Hello from the repository"; } }' > /etc/nginx/conf.d/hello.conf
ls /etc/nginx/modules-enabled/ | grep -q hello-world
nginx -t`, port))
	c.Shell(ctx, "nginx")
	defer c.Exec(ctx, nil, "nginx", "-s", "stop")
	body := c.Shell(ctx, fmt.Sprintf("curl -fsS http://127.0.0.1:%d/hello", port))
	if !strings.Contains(body, "Hello from the repository") {
		t.Errorf("%s: GET /hello through the module: %q", image, body)
	}
}

// signingKey is a fresh armored Ed25519 private key, as the Action's
// repo-signing-key secret holds one.
func signingKey(t *testing.T) []byte {
	t.Helper()
	e, err := openpgp.NewEntity("nginx-modbuild test repository", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}
