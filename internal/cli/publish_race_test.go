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
	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/nativepkg"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/provenance/provenancetest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
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

// echoAndKey are Debian's echo module .so and an armored signing key
// (with its entity) in a file.
func echoAndKey(t *testing.T) (so []byte, key *openpgp.Entity, keyFile string) {
	t.Helper()
	const debSO = "debs/bookworm-amd64/libnginx-mod-http-echo/usr/lib/nginx/modules/ngx_http_echo_module.so"
	so, err := os.ReadFile(filepath.Join(testenv.Mirror(t, debSO), debSO))
	if err != nil {
		t.Fatal(err)
	}
	key, err = openpgp.NewEntity("repo", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var armored bytes.Buffer
	w, _ := armor.Encode(&armored, openpgp.PrivateKeyType, nil)
	key.SerializePrivate(w, nil)
	w.Close()
	keyFile = filepath.Join(t.TempDir(), "key.asc")
	os.WriteFile(keyFile, armored.Bytes(), 0o600)
	return so, key, keyFile
}

// TestConcurrentPublishesIndexBoth is issue 30's item 11: two release
// --dir --repositories at once, each with another nginx version's
// package, leave a signed Release that lists both components: the
// repositories are written under the directory's lock from the manifest
// as it is then. Before, 3 of 32 pairs signed an InRelease missing the
// other run's component.
func TestConcurrentPublishesIndexBoth(t *testing.T) {
	so, _, keyFile := echoAndKey(t)
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

// TestRepositoriesIndexOnlyAttested is issue 30's item 2 for the pages
// job: release --dir --repositories --signer-repo indexes the packages
// the signer's workflow attested; a package replaced in the release
// after it was attested (its manifest entry rewritten to match) is left
// out of the signed index, named, and the command fails.
func TestRepositoriesIndexOnlyAttested(t *testing.T) {
	so, e, keyFile := echoAndKey(t)
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(t.TempDir(), "root.jsonl")
	os.WriteFile(rootFile, []byte(provenancetest.Root(t, vs)+"\n"), 0o644)
	const watch = "https://github.com/acme/mod/.github/workflows/nginx-modbuild.yml@refs/heads/main"

	h := newHarness(t)
	h.releaseRepo()
	site := filepath.Join(t.TempDir(), "site")
	var files []string
	// As the release job publishes (signing) and the attest job attests
	// what it published.
	for _, v := range []string{"1.26.3", "1.28.0"} {
		dist := packageDist(t, so, v)
		if r := h.run("release", "--dir", site, "--dist", dist, "--signing-key", keyFile); r.code != 0 {
			t.Fatalf("release --dir: exit %d %v\n%s", r.code, r.err, r.stderr)
		}
		debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
		files = append(files, filepath.Base(debs[0]))
		data := mustReadFile(t, filepath.Join(site, files[len(files)-1]))
		sum := sha256.Sum256(data)
		h.gh.AddAttestation("acme/mod", "sha256:"+hex.EncodeToString(sum[:]), provenancetest.Attest(t, vs, watch, data))
	}
	// The attack on the 1.28.0 package: another valid package (its own
	// maintainer scripts), a manifest to match.
	d, _ := distro.Lookup("debian-12")
	p, err := nativepkg.Build(nativepkg.Spec{Module: "ngx_http_echo_module", SO: so, Nginx: "1.28.0", Distro: d, Arch: "amd64", Version: "6.6.6"})
	if err != nil {
		t.Fatal(err)
	}
	evil, err := nativepkg.Sign("deb", p.Data, e, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(site, files[1]), evil, 0o644)
	m, err := manifest.Read(filepath.Join(site, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(evil)
	for i := range m.Entries {
		if m.Entries[i].File == files[1] {
			m.Entries[i].SHA256 = hex.EncodeToString(sum[:])
		}
	}
	os.WriteFile(filepath.Join(site, "manifest.json"), m.Encode(), 0o644)

	r := h.run("release", "--dir", site, "--dist", site, "--repositories", "--signing-key", keyFile,
		"--signer-repo", "acme/mod", "--trusted-root", rootFile)
	if r.code != 1 || r.err == nil || !strings.Contains(r.err.Error(), "left out") || !strings.Contains(r.err.Error(), files[1]) ||
		strings.Contains(r.err.Error(), files[0]) {
		t.Errorf("exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	packages, _ := filepath.Glob(filepath.Join(site, "dists", "debian-12", "*", "binary-amd64", "Packages"))
	var index string
	for _, p := range packages {
		index += string(mustReadFile(t, p))
	}
	if !strings.Contains(index, "Filename: "+files[0]) || strings.Contains(index, files[1]) {
		t.Errorf("the signed index holds:\n%s", index)
	}
	if !strings.Contains(r.stderr, files[0]+": attested by "+watch) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}
