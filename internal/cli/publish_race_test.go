package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/nginx-modbuild/nginx-modbuild/internal/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/nativepkg"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testenv"
)

// packageDist writes a dist holding one cell's .deb of Debian's echo
// module for nginx v on debian-12, as build --packages leaves it.
func packageDist(t *testing.T, so []byte, v string) string {
	t.Helper()
	d, _ := distro.Lookup("debian-12")
	p, err := nativepkg.Build(nativepkg.Spec{Module: "ngx_http_echo_module", SO: so, Nginx: v, Distro: d, Arch: "amd64", Version: "1.0",
		MTime: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	e := manifest.Entry{Module: "ngx_http_echo_module", Source: ".", Nginx: v, Distro: "debian-12", Arch: "amd64", Kind: "deb",
		Package: p.Name + "=" + p.Version, BuiltAt: "2026-11-30T00:00:00Z"}
	e.File = e.Asset()
	sum := sha256.Sum256(p.Data)
	e.SHA256 = hex.EncodeToString(sum[:])
	os.WriteFile(filepath.Join(dist, e.File), p.Data, 0o644)
	m := manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{e}, Cells: []manifest.Cell{{Nginx: v, Distro: "debian-12", Arch: "amd64"}}}
	os.WriteFile(filepath.Join(dist, manifest.CellFileName(v, "debian-12", "amd64")), m.Encode(), 0o644)
	return dist
}

// TestConcurrentPublishesIndexBoth is issue 30's item 11: two release
// --dir --repositories at once, each with another nginx version's
// package, leave a signed Release that lists both components: the
// repositories are written under the directory's lock from the manifest
// as it is then. Before, 3 of 32 pairs signed an InRelease missing the
// other run's component.
func TestConcurrentPublishesIndexBoth(t *testing.T) {
	const debSO = "debs/bookworm-amd64/libnginx-mod-http-echo/usr/lib/nginx/modules/ngx_http_echo_module.so"
	so, err := os.ReadFile(filepath.Join(testenv.Mirror(t, debSO), debSO))
	if err != nil {
		t.Fatal(err)
	}
	e, err := openpgp.NewEntity("repo", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var key bytes.Buffer
	w, _ := armor.Encode(&key, openpgp.PrivateKeyType, nil)
	e.SerializePrivate(w, nil)
	w.Close()
	keyFile := filepath.Join(t.TempDir(), "key.asc")
	os.WriteFile(keyFile, key.Bytes(), 0o600)
	dists := []string{packageDist(t, so, "1.26.3"), packageDist(t, so, "1.28.0")}
	bin := testenv.ToolBinary(t)
	for round := 0; round < 32; round++ {
		pub := filepath.Join(t.TempDir(), "pub")
		var wg sync.WaitGroup
		for _, dist := range dists {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Two processes, as two jobs publishing into one directory are.
				cmd := exec.Command(bin, "release", "--dir", pub, "--dist", dist, "--repositories", "--signing-key", keyFile)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("round %d: release --dir: %v\n%s", round, err, out)
				}
			}()
		}
		wg.Wait()
		rel, err := os.ReadFile(filepath.Join(pub, "dists", "debian-12", "Release"))
		if err != nil {
			t.Fatal(err)
		}
		in, _ := os.ReadFile(filepath.Join(pub, "dists", "debian-12", "InRelease"))
		for _, c := range []string{"nginx-1.26/binary-amd64/Packages", "nginx-1.28/binary-amd64/Packages"} {
			if !strings.Contains(string(rel), c) || !strings.Contains(string(in), c) {
				t.Fatalf("round %d: the signed Release lacks %s (another run's component):\n%s", round, c, rel)
			}
		}
	}
}
