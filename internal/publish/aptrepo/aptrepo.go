// Package aptrepo writes a signed apt repository over .deb files that are
// already in place: dists/<suite>/<component>/binary-<arch>/Packages(.gz)
// and dists/<suite>/{Release,InRelease,Release.gpg}, as apt reads them
// (Debian's "Repository format" wiki page). The Packages stanza of a
// package is its control file, verbatim, plus where the file is and its
// checksums, as dpkg-scanpackages writes it.
//
// No Go library writes apt indexes short of aptly (a whole repository
// manager); reading a .deb's control member is a few lines over
// github.com/blakesmith/ar (already in the build through nfpm), and the
// signatures are go-crypto's clearsign and detached signing.
package aptrepo

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/blakesmith/ar"
)

// Deb is one package of the repository.
type Deb struct {
	// Filename is its path under the repository's root, with slashes
	// (the Packages field: apt fetches ROOT/Filename).
	Filename string
	Data     []byte
	// Suite (debian-12), Component (main) and Arch (amd64) place it.
	Suite, Component, Arch string
}

// File is a file of the repository to write: a path under the root, with
// slashes, and its bytes.
type File struct {
	Path string
	Data []byte
}

// Options say what a repository is called and when it was made.
type Options struct {
	// Origin and Label name the repository in its Release files.
	Origin, Label string
	// Date is the Release's date: the newest build, so that the same
	// packages make the same Release.
	Date time.Time
	// Codenames are the suites' distribution codenames (debian-12:
	// bookworm). A suite that has one says it in its Release and is
	// published under it too (dists/bookworm, the same files), so a
	// source line by codename works, and a dist-upgrade that rewrites
	// bookworm to trixie in every source line moves it along.
	Codenames map[string]string
}

// Indexes makes the unsigned indexes of the repository: every
// Packages(.gz) and each suite's Release. Their order is stable.
func Indexes(debs []Deb, o Options) ([]File, error) {
	type key struct{ suite, comp, arch string }
	stanzas := map[key][]string{}
	for _, d := range debs {
		s, err := stanza(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Filename, err)
		}
		k := key{d.Suite, d.Component, d.Arch}
		stanzas[k] = append(stanzas[k], s)
	}
	suites := map[string][]File{} // each suite's index files
	var out []File
	for k, ss := range stanzas {
		sort.Strings(ss)
		text := []byte(strings.Join(ss, "\n"))
		gz, err := gzipped(text)
		if err != nil {
			return nil, err
		}
		dir := k.comp + "/binary-" + k.arch + "/"
		suites[k.suite] = append(suites[k.suite], File{dir + "Packages", text}, File{dir + "Packages.gz", gz})
	}
	for suite, files := range suites {
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
		codename := cmp.Or(o.Codenames[suite], suite)
		rel := release(suite, codename, files, o)
		for _, name := range slices.Compact([]string{suite, codename}) {
			for _, f := range files {
				out = append(out, File{"dists/" + name + "/" + f.Path, f.Data})
			}
			out = append(out, File{"dists/" + name + "/Release", rel})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// release is a suite's Release file: what it holds and every index's
// size and SHA-256.
func release(suite, codename string, files []File, o Options) []byte {
	comps, arches := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		comp, rest, _ := strings.Cut(f.Path, "/")
		comps[comp] = true
		arches[strings.TrimPrefix(strings.SplitN(rest, "/", 2)[0], "binary-")] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Origin: %s\nLabel: %s\nSuite: %s\nCodename: %s\n", o.Origin, o.Label, suite, codename)
	fmt.Fprintf(&b, "Date: %s\n", o.Date.UTC().Format(time.RFC1123))
	fmt.Fprintf(&b, "Architectures: %s\nComponents: %s\n", strings.Join(slices.Sorted(maps.Keys(arches)), " "), strings.Join(slices.Sorted(maps.Keys(comps)), " "))
	fmt.Fprintf(&b, "Description: nginx modules built by nginx-modbuild for %s\n", suite)
	b.WriteString("SHA256:\n")
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(&b, " %s %d %s\n", hex.EncodeToString(sum[:]), len(f.Data), f.Path)
	}
	return []byte(b.String())
}

// Sign makes a Release's two signatures: InRelease (clearsigned) and
// Release.gpg (detached, armored).
func Sign(releaseText []byte, key *openpgp.Entity) (inRelease, releaseGPG []byte, err error) {
	if key.PrivateKey == nil || key.PrivateKey.Encrypted {
		return nil, nil, errors.New("the signing key has no usable private key (a passphrase-protected key must be given decrypted)")
	}
	cfg := &packet.Config{DefaultHash: crypto.SHA256} // apt refuses SHA-1
	var in bytes.Buffer
	w, err := clearsign.Encode(&in, key.PrivateKey, cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.Write(releaseText); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	var det bytes.Buffer
	if err := openpgp.ArmoredDetachSignText(&det, key, bytes.NewReader(releaseText), cfg); err != nil {
		return nil, nil, err
	}
	return in.Bytes(), det.Bytes(), nil
}

// Verify reports whether inRelease is releaseText clearsigned by key: a
// signature that still holds need not be made again.
func Verify(inRelease, releaseText []byte, key *openpgp.Entity) bool {
	b, _ := clearsign.Decode(inRelease)
	if b == nil || !bytes.Equal(bytes.TrimRight(b.Plaintext, "\n"), bytes.TrimRight(releaseText, "\n")) {
		return false
	}
	_, err := b.VerifySignature(openpgp.EntityList{key}, nil)
	return err == nil
}

// stanza is the Packages entry of d.
func stanza(d Deb) (string, error) {
	control, err := Control(d.Data)
	if err != nil {
		return "", err
	}
	md := md5.Sum(d.Data)
	s1 := sha1.Sum(d.Data)
	s256 := sha256.Sum256(d.Data)
	return fmt.Sprintf("%s\nFilename: %s\nSize: %d\nMD5sum: %x\nSHA1: %x\nSHA256: %x\n",
		strings.TrimRight(control, "\n"), d.Filename, len(d.Data), md, s1, s256), nil
}

// Control is the control file of a .deb: its control.tar member's
// ./control.
func Control(deb []byte) (string, error) {
	r := ar.NewReader(bytes.NewReader(deb))
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return "", errors.New("not a .deb: no control.tar member")
		}
		if err != nil {
			return "", fmt.Errorf("not a .deb: %w", err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if !strings.HasPrefix(name, "control.tar") {
			continue
		}
		var tr io.Reader = r
		switch filepath.Ext(name) {
		case ".gz":
			gz, err := gzip.NewReader(r)
			if err != nil {
				return "", err
			}
			tr = gz
		case ".tar":
		default:
			return "", fmt.Errorf("%s: only gzip-compressed control members are read (nfpm writes those)", name)
		}
		t := tar.NewReader(tr)
		for {
			th, err := t.Next()
			if err != nil {
				return "", fmt.Errorf("%s: no ./control in it (%v)", name, err)
			}
			if th.Name == "./control" || th.Name == "control" {
				b, err := io.ReadAll(io.LimitReader(t, 1<<20))
				return string(b), err
			}
		}
	}
}

// Field is a control file's value of a single-line field ("" if none).
func Field(control, name string) string {
	for _, l := range strings.Split(control, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func gzipped(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
