package repos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

func entryFor(dir, distro, nginx string, data []byte) manifest.Entry {
	name := "ngx_http_x_module_" + nginx + "_" + distro + "_amd64.deb"
	os.WriteFile(filepath.Join(dir, name), data, 0o644)
	sum := sha256.Sum256(data)
	return manifest.Entry{Module: "ngx_http_x_module", Nginx: nginx, Distro: distro, Arch: "amd64",
		Kind: "deb", File: name, SHA256: hex.EncodeToString(sum[:]), BuiltAt: "2026-11-29T10:00:00Z"}
}

// TestWriteRefusesReplacedPackage is issue 30's item 3: a .deb replaced in
// the release directory after it was published (its manifest entry
// unchanged) is refused, and nothing is indexed or signed: the repository
// keeps the InRelease of the genuine package.
func TestWriteRefusesReplacedPackage(t *testing.T) {
	t.Parallel()
	key, err := openpgp.NewEntity("repo", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{entryFor(dir, "debian-12", "1.22.1", deb(t, "1.0+nginx1.22.1"))}}
	if _, err := Write(context.Background(), dir, m, key, Options{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	// The attacker's package, with a postinst of their own, under the
	// genuine one's name.
	os.WriteFile(filepath.Join(dir, m.Entries[0].File), deb(t, "6.6.6"), 0o644)
	before[filepath.Join(dir, m.Entries[0].File)] = snapshot(t, dir)[filepath.Join(dir, m.Entries[0].File)]
	_, err = Write(context.Background(), dir, m, key, Options{})
	if err == nil || !strings.Contains(err.Error(), "the package was replaced") || !strings.Contains(err.Error(), m.Entries[0].File) {
		t.Fatalf("a replaced package: %v", err)
	}
	after := snapshot(t, dir)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("a refused publish changed %s", p)
		}
	}
}

// TestWriteRefusesPathsFromManifest is issue 30's item 4: an entry whose
// distro (or file) is a path makes no file outside the directory; an rpm
// entry so named deletes nothing elsewhere.
func TestWriteRefusesPathsFromManifest(t *testing.T) {
	t.Parallel()
	key, err := openpgp.NewEntity("repo", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "pub", "site")
	os.MkdirAll(dir, 0o755)
	victim := filepath.Join(root, "x", "victim.rpm")
	os.MkdirAll(filepath.Dir(victim), 0o755)
	os.WriteFile(victim, []byte("not yours"), 0o644)
	good := entryFor(dir, "debian-12", "1.22.1", deb(t, "1.0+nginx1.22.1"))
	for _, bad := range []func(e manifest.Entry) manifest.Entry{
		func(e manifest.Entry) manifest.Entry { e.Distro = "../../x"; return e },
		func(e manifest.Entry) manifest.Entry { e.Kind, e.Distro = "rpm", "../../../x"; return e },
		func(e manifest.Entry) manifest.Entry { e.File = "../" + e.File; return e },
		func(e manifest.Entry) manifest.Entry { e.Arch = "../amd64"; return e },
	} {
		e := bad(good)
		m := &manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{good, e}}
		_, err := Write(context.Background(), dir, m, key, Options{CreateRepo: "/bin/true"})
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("entry %+v: %v", e, err)
		}
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "not yours" {
		t.Errorf("a file outside the directory was changed: %v", err)
	}
	var outside []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasPrefix(p, dir+string(filepath.Separator)) && p != victim {
			outside = append(outside, p)
		}
		return nil
	})
	if len(outside) > 0 {
		t.Errorf("written outside %s: %v", dir, outside)
	}
}
