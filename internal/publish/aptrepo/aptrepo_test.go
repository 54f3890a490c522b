package aptrepo

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// deb makes a real .deb with nfpm, as nativepkg does.
func deb(t *testing.T, name, version string, depends ...string) []byte {
	t.Helper()
	info := nfpm.WithDefaults(&nfpm.Info{Name: name, Arch: "amd64", Platform: "linux", Version: version, VersionSchema: "none",
		Release: "1", Maintainer: "t <t@example.com>", Description: "a module\nwith a second line", Section: "httpd",
		Overridables: nfpm.Overridables{Depends: depends, Contents: files.Contents{}}})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		t.Fatal(err)
	}
	p, err := nfpm.Get("deb")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.Package(info, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestIndexes(t *testing.T) {
	t.Parallel()
	a := deb(t, "nginx-module-echo", "0.63+nginx1.22.1", "nginx-abi-1.22.1-7")
	b := deb(t, "nginx-module-echo", "0.63+nginx1.26.3", "nginx (>= 1.26.3)", "nginx (<< 1.26.4~)")
	debs := []Deb{
		{Filename: "echo_1.26.3_debian-12_amd64.deb", Data: b, Suite: "debian-12", Component: "nginx-1.26", Arch: "amd64"},
		{Filename: "echo_1.22.1_debian-12_amd64.deb", Data: a, Suite: "debian-12", Component: "main", Arch: "amd64"},
	}
	date := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	files, err := Indexes(debs, Options{Origin: "o", Label: "l", Date: date})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	byPath := map[string][]byte{}
	for _, f := range files {
		paths = append(paths, f.Path)
		byPath[f.Path] = f.Data
	}
	want := "dists/debian-12/Release dists/debian-12/main/binary-amd64/Packages dists/debian-12/main/binary-amd64/Packages.gz " +
		"dists/debian-12/nginx-1.26/binary-amd64/Packages dists/debian-12/nginx-1.26/binary-amd64/Packages.gz"
	if strings.Join(paths, " ") != want {
		t.Fatalf("files:\n%s\nwant\n%s", strings.Join(paths, " "), want)
	}
	main := string(byPath["dists/debian-12/main/binary-amd64/Packages"])
	for _, w := range []string{"Package: nginx-module-echo\n", "Version: 0.63+nginx1.22.1-1\n", "Depends: nginx-abi-1.22.1-7\n",
		" with a second line\n", "Filename: echo_1.22.1_debian-12_amd64.deb\n", fmt.Sprintf("Size: %d\n", len(a)),
		fmt.Sprintf("SHA256: %x\n", sha256.Sum256(a))} {
		if !strings.Contains(main, w) {
			t.Errorf("Packages lacks %q:\n%s", w, main)
		}
	}
	gz, _ := gzip.NewReader(bytes.NewReader(byPath["dists/debian-12/main/binary-amd64/Packages.gz"]))
	if unz, _ := io.ReadAll(gz); string(unz) != main {
		t.Error("Packages.gz is not Packages")
	}
	rel := string(byPath["dists/debian-12/Release"])
	sum := sha256.Sum256([]byte(main))
	for _, w := range []string{"Suite: debian-12\n", "Date: Sun, 29 Nov 2026 10:00:00 UTC\n", "Components: main nginx-1.26\n", "Architectures: amd64\n",
		fmt.Sprintf(" %x %d main/binary-amd64/Packages\n", sum, len(main))} {
		if !strings.Contains(rel, w) {
			t.Errorf("Release lacks %q:\n%s", w, rel)
		}
	}
	again, _ := Indexes(debs, Options{Origin: "o", Label: "l", Date: date})
	for i := range again {
		if !bytes.Equal(again[i].Data, files[i].Data) {
			t.Errorf("%s differs between two runs", again[i].Path)
		}
	}

	// With its codename, the suite says it and is also under dists/bookworm:
	// the same files, so a line by either name reads the same repository.
	named, _ := Indexes(debs, Options{Origin: "o", Label: "l", Date: date, Codenames: map[string]string{"debian-12": "bookworm"}})
	alias := map[string][]byte{}
	for _, f := range named {
		if rest, ok := strings.CutPrefix(f.Path, "dists/bookworm/"); ok {
			alias["dists/debian-12/"+rest] = f.Data
		}
	}
	if len(alias) != len(files) || len(named) != 2*len(files) {
		t.Fatalf("with a codename: %d files, %d under dists/bookworm; want %d and %d", len(named), len(alias), 2*len(files), len(files))
	}
	for _, f := range named[len(named)/2:] {
		if !bytes.Equal(alias[f.Path], f.Data) {
			t.Errorf("dists/bookworm's copy of %s differs", f.Path)
		}
	}
	if r := string(alias["dists/debian-12/Release"]); !strings.Contains(r, "Suite: debian-12\nCodename: bookworm\n") {
		t.Errorf("Release with a codename:\n%s", r)
	}
}

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	key, err := openpgp.NewEntity("repo", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := openpgp.NewEntity("other", "", "other@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	text := []byte("Origin: o\nSuite: debian-12\nSHA256:\n abc 1 main/binary-amd64/Packages\n")
	in, det, err := Sign(text, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(in, []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n")) || !bytes.Contains(det, []byte("BEGIN PGP SIGNATURE")) {
		t.Errorf("InRelease:\n%s\nRelease.gpg:\n%s", in, det)
	}
	if !Verify(in, text, key) {
		t.Error("InRelease does not verify")
	}
	if Verify(in, text, other) || Verify(in, append(text, 'x'), key) {
		t.Error("InRelease verifies with another key or for other text")
	}
	if _, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList{key}, bytes.NewReader(text), bytes.NewReader(det), nil); err != nil {
		t.Errorf("Release.gpg: %v", err)
	}
	tampered := bytes.Replace(in, []byte("debian-12"), []byte("debian-13"), 1)
	if Verify(tampered, bytes.Replace(text, []byte("debian-12"), []byte("debian-13"), 1), key) {
		t.Error("a tampered InRelease verifies")
	}
}
