package repos

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/signkey"
)

// apkArch is the apk name of an architecture.
func apkArch(arch string) string { return rpmArch(arch) }

// writeAPK makes an apk repository per Alpine release and architecture of
// the manifest's .apk files: apk/<distro>/<arch>/ with the packages under
// the names apk fetches (name-version.apk, hard links to the release's
// files) and APKINDEX.tar.gz, signed. apk-tools writes these in C only;
// the format is small (a signature tar member, then the index), so it is
// written here.
func writeAPK(dir string, m *manifest.Manifest, key *openpgp.Entity) ([]string, error) {
	groups := byRepo(m, "apk", []distro.Family{distro.Apk}, func(d, arch string) string {
		return filepath.ToSlash(filepath.Join("apk", d, apkArch(arch)))
	})
	if len(groups) == 0 {
		return nil, nil
	}
	k, err := signkey.RSA(key)
	if err != nil {
		return nil, err
	}
	wrote, err := eachRepo(groups, "apk", func(rd string, es []manifest.Entry) ([]string, error) {
		return apkRepo(dir, rd, es, k)
	})
	if err != nil {
		return wrote, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return wrote, err
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	if changed, err := atomicfile.WriteChanged(filepath.Join(dir, signkey.APKName), pemKey, 0o644); err != nil {
		return wrote, err
	} else if changed {
		wrote = append(wrote, signkey.APKName)
	}
	return wrote, nil
}

// apkRepo writes one repository's packages and signed index.
func apkRepo(dir, rd string, entries []manifest.Entry, k *rsa.PrivateKey) ([]string, error) {
	repo := filepath.Join(dir, filepath.FromSlash(rd))
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].File < entries[j].File })
	var index strings.Builder
	newest := time.Unix(0, 0).UTC()
	var wrote []string
	for _, e := range entries {
		data, err := readPackage(dir, e)
		if err != nil {
			return nil, err
		}
		info, sum, err := APKInfo(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.File, err)
		}
		name := info["pkgname"][0] + "-" + info["pkgver"][0] + ".apk"
		if err := linkOrCopy(filepath.Join(dir, e.File), filepath.Join(repo, name)); err != nil {
			return nil, err
		}
		index.WriteString(indexEntry(info, sum, len(data)))
		if t, err := time.Parse(time.RFC3339, e.BuiltAt); err == nil && t.After(newest) {
			newest = t
		}
	}
	signed, err := apkIndex([]byte(index.String()), newest, k)
	if err != nil {
		return nil, err
	}
	if changed, err := atomicfile.WriteChanged(filepath.Join(repo, "APKINDEX.tar.gz"), signed, 0o644); err != nil {
		return nil, err
	} else if changed {
		wrote = append(wrote, rd+"/APKINDEX.tar.gz")
	}
	return wrote, nil
}

// indexEntry is a package's APKINDEX stanza (apk-tools' index format).
func indexEntry(info map[string][]string, controlSHA1 []byte, size int) string {
	var b strings.Builder
	one := func(field, key string) {
		if v := info[key]; len(v) > 0 && v[0] != "" {
			fmt.Fprintf(&b, "%s:%s\n", field, v[0])
		}
	}
	fmt.Fprintf(&b, "C:Q1%s\n", base64.StdEncoding.EncodeToString(controlSHA1))
	one("P", "pkgname")
	one("V", "pkgver")
	one("A", "arch")
	fmt.Fprintf(&b, "S:%d\n", size)
	one("I", "size")
	one("T", "pkgdesc")
	one("U", "url")
	one("L", "license")
	one("o", "origin")
	one("m", "maintainer")
	one("t", "builddate")
	if d := info["depend"]; len(d) > 0 {
		fmt.Fprintf(&b, "D:%s\n", strings.Join(d, " "))
	}
	if p := info["provides"]; len(p) > 0 {
		fmt.Fprintf(&b, "p:%s\n", strings.Join(p, " "))
	}
	b.WriteString("\n")
	return b.String()
}

// apkIndex is APKINDEX.tar.gz: a gzip member holding the signature tar
// entry (without the end-of-archive blocks, so both members read as one
// tar), then the gzip member of the index tar it signs.
func apkIndex(index []byte, mtime time.Time, k *rsa.PrivateKey) ([]byte, error) {
	var body bytes.Buffer
	if err := tgz(&body, mtime, true, map[string][]byte{"DESCRIPTION": []byte("nginx modules built by nginx-modbuild"), "APKINDEX": index}); err != nil {
		return nil, err
	}
	digest := sha1.Sum(body.Bytes())
	sig, err := signkey.SignAPKDigest(k, digest[:])
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := tgz(&out, mtime, false, map[string][]byte{".SIGN.RSA." + signkey.APKName: sig}); err != nil {
		return nil, err
	}
	out.Write(body.Bytes())
	return out.Bytes(), nil
}

// tgz writes a gzip member of a tar of files (sorted by name), with or
// without the end-of-archive blocks.
func tgz(w io.Writer, mtime time.Time, end bool, files map[string][]byte) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		h := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return err
		}
	}
	if end {
		err = tw.Close()
	} else {
		err = tw.Flush()
	}
	if err != nil {
		return err
	}
	return gz.Close()
}

// APKInfo reads an .apk: the .PKGINFO of its control member (key =
// value lines; depend and provides repeat) and the SHA-1 of that gzip
// member, which the index's C: field holds.
func APKInfo(apk []byte) (map[string][]string, []byte, error) {
	r := bytes.NewReader(apk)
	for member := 0; member < 3; member++ {
		start := len(apk) - r.Len()
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("not an apk (gzip member %d): %w", member, err)
		}
		gz.Multistream(false)
		t := tar.NewReader(gz)
		var info map[string][]string
		for {
			h, err := t.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, nil, err
			}
			if h.Name == ".PKGINFO" {
				b, err := io.ReadAll(io.LimitReader(t, 1<<20))
				if err != nil {
					return nil, nil, err
				}
				info = parsePKGINFO(string(b))
			}
		}
		io.Copy(io.Discard, gz) // the member's end-of-archive blocks
		if info != nil {
			end := len(apk) - r.Len()
			sum := sha1.Sum(apk[start:end])
			if len(info["pkgname"]) == 0 || len(info["pkgver"]) == 0 {
				return nil, nil, errors.New(".PKGINFO has no pkgname or pkgver")
			}
			return info, sum[:], nil
		}
	}
	return nil, nil, errors.New("not an apk: no .PKGINFO in its first members")
}

func parsePKGINFO(text string) map[string][]string {
	out := map[string][]string{}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, " = ")
		if ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// linkOrCopy makes dst the same file as src: a hard link, or a copy.
func linkOrCopy(src, dst string) error {
	if a, err := os.Stat(src); err == nil {
		if b, err := os.Stat(dst); err == nil && os.SameFile(a, b) {
			return nil
		}
	}
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return atomicfile.Write(dst, data, 0o644)
}
