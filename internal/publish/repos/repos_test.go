package repos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/signkey"
)

func deb(t *testing.T, version string) []byte {
	t.Helper()
	info := nfpm.WithDefaults(&nfpm.Info{Name: "nginx-module-x", Arch: "amd64", Platform: "linux", Version: version, VersionSchema: "none",
		Release: "1", Maintainer: "t <t@example.com>", Description: "x", Overridables: nfpm.Overridables{Contents: files.Contents{}}})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		t.Fatal(err)
	}
	p, _ := nfpm.Get("deb")
	var b bytes.Buffer
	if err := p.Package(info, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// snapshot is every file under dir with its bytes and time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = fi.ModTime().String() + " " + string(b)
		}
		return nil
	})
	return out
}

// TestWriteIsIdempotent: the same packages leave every file as it was,
// signatures included; a rebuilt package changes its suite's indexes and
// signatures only; a .deb of a non-apt distro is left out.
func TestWriteIsIdempotent(t *testing.T) {
	t.Parallel()
	key, err := openpgp.NewEntity("repo", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &manifest.Manifest{Schema: manifest.Schema}
	add := func(distro, nginx string, data []byte) {
		name := "ngx_http_x_module_" + nginx + "_" + distro + "_amd64.deb"
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
		sum := sha256.Sum256(data)
		for i, e := range m.Entries {
			if e.File == name {
				m.Entries = append(m.Entries[:i], m.Entries[i+1:]...)
				break
			}
		}
		m.Entries = append(m.Entries, manifest.Entry{Module: "ngx_http_x_module", Nginx: nginx, Distro: distro, Arch: "amd64",
			Kind: "deb", File: name, SHA256: hex.EncodeToString(sum[:]), BuiltAt: "2026-11-29T10:00:00Z"})
	}
	add("debian-12", "1.22.1", deb(t, "1.0+nginx1.22.1"))
	add("debian-13", "1.26.3", deb(t, "1.0+nginx1.26.3"))
	add("debian-12", "1.26.3", deb(t, "1.0+nginx1.26.3"))
	add("rocky-9", "1.26.3", deb(t, "1.0+nginx1.26.3")) // not an apt distro

	wrote, err := Write(context.Background(), dir, m, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(wrote)
	for _, want := range []string{"dists/debian-12/InRelease", "dists/debian-12/Release.gpg", "dists/debian-12/main/binary-amd64/Packages",
		"dists/debian-12/nginx-1.26/binary-amd64/Packages.gz", "dists/debian-13/main/binary-amd64/Packages", signkey.Name + ".gpg", signkey.Name + ".asc"} {
		if !strings.Contains(strings.Join(wrote, " "), want) {
			t.Errorf("wrote %v: no %s", wrote, want)
		}
	}
	if strings.Contains(strings.Join(wrote, " "), "rocky") {
		t.Errorf("a rocky-9 .deb went into an apt suite: %v", wrote)
	}
	before := snapshot(t, dir)
	if again, err := Write(context.Background(), dir, m, key, Options{}); err != nil || len(again) != 0 {
		t.Errorf("the same packages again: wrote %v, %v", again, err)
	}
	if after := snapshot(t, dir); len(after) != len(before) {
		t.Errorf("files: %d then %d", len(before), len(after))
	} else {
		for p, v := range before {
			if after[p] != v {
				t.Errorf("%s changed on a second identical publish", p)
			}
		}
	}
	// A rebuilt package: only its suite's indexes and signatures change
	// (the suite's, under its name and its codename).
	add("debian-13", "1.26.3", deb(t, "1.1+nginx1.26.3"))
	wrote, err = Write(context.Background(), dir, m, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(wrote)
	if got := strings.Join(wrote, " "); got != "dists/debian-13/InRelease dists/debian-13/Release dists/debian-13/Release.gpg "+
		"dists/debian-13/main/binary-amd64/Packages dists/debian-13/main/binary-amd64/Packages.gz "+
		"dists/trixie/InRelease dists/trixie/Release dists/trixie/Release.gpg "+
		"dists/trixie/main/binary-amd64/Packages dists/trixie/main/binary-amd64/Packages.gz" {
		t.Errorf("a rebuilt debian-13 package wrote: %s", got)
	}
}
