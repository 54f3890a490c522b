package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

const (
	sha1180 = "4c373e7ab5bf91d34a4f11a0c9496561061ba5eee6020db272a17a7228d35f99"
	sha1221 = "9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31"
)

func keyring(t *testing.T, keyURL string) *Keyring {
	t.Helper()
	k, err := NewKeyring(keyURL, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serve makes an HTTP mirror of dir, so the real download path runs.
func serve(t *testing.T, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func TestFetchVerifiesSignature(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "nginx-1.18.0.tar.gz.asc")
	o := Options{Mirror: serve(t, mirror), CacheDir: t.TempDir(), Keyring: keyring(t, "http://127.0.0.1:1/"), HTTP: http.DefaultClient}
	tb, err := Fetch(context.Background(), o, "1.18.0")
	if err != nil {
		t.Fatal(err)
	}
	if tb.SHA256 != sha1180 {
		t.Errorf("sha256 = %s", tb.SHA256)
	}
	if !strings.Contains(tb.Verified, "signature by Maxim Dounin (B0F4253373F8F6F510D42178520A9993A1C052F8)") {
		t.Errorf("verified = %q", tb.Verified)
	}
	// From the cache, offline: the mirror is gone, the check is not.
	o.Mirror = "http://127.0.0.1:1/"
	again, err := Fetch(context.Background(), o, "1.18.0")
	if err != nil || again.Verified != tb.Verified {
		t.Errorf("cached fetch: %+v, %v", again, err)
	}
}

// badMirror is a mirror directory serving nginx 1.18.0's tarball and
// signature from mirror as spoil changes them.
func badMirror(t *testing.T, mirror string, spoil func(tarball, asc []byte) ([]byte, []byte)) string {
	t.Helper()
	tarball, err := os.ReadFile(filepath.Join(mirror, "nginx-1.18.0.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	asc, err := os.ReadFile(filepath.Join(mirror, "nginx-1.18.0.tar.gz.asc"))
	if err != nil {
		t.Fatal(err)
	}
	tarball, asc = spoil(tarball, asc)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "nginx-1.18.0.tar.gz"), tarball, 0o644)
	os.WriteFile(filepath.Join(bad, "nginx-1.18.0.tar.gz.asc"), asc, 0o644)
	return bad
}

func TestFetchRefusesFlippedByte(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "nginx-1.18.0.tar.gz.asc")
	bad := badMirror(t, mirror, func(tarball, asc []byte) ([]byte, []byte) {
		tarball[len(tarball)/2] ^= 0x01
		return tarball, asc
	})

	cache := t.TempDir()
	o := Options{Mirror: bad, CacheDir: cache, Keyring: keyring(t, "http://127.0.0.1:1/"), HTTP: http.DefaultClient}
	_, err := Fetch(context.Background(), o, "1.18.0")
	if err == nil || !strings.Contains(err.Error(), "signature nginx-1.18.0.tar.gz.asc does not verify") {
		t.Fatalf("flipped byte: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "nginx", "*")); len(left) != 0 {
		t.Errorf("the bad tarball left %v in the cache", left)
	}
	o.SHA256 = map[string]string{"1.18.0": sha1180}
	_, err = Fetch(context.Background(), o, "1.18.0")
	if err == nil || !strings.Contains(err.Error(), "but the config pins "+sha1180) {
		t.Errorf("pinned checksum: %v", err)
	}
}

// TestFetchPoisonedMirrorLeavesNoCache is issue 15's item 7: a mirror
// that served an HTML page as the .asc once made every later run fail
// with "signature ... does not verify: EOF", even from a good mirror.
func TestFetchPoisonedMirrorLeavesNoCache(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "nginx-1.18.0.tar.gz.asc")
	bad := badMirror(t, mirror, func(tarball, _ []byte) ([]byte, []byte) {
		return tarball, []byte("<html><body>Service Unavailable</body></html>\n")
	})
	cache := t.TempDir()
	o := Options{Mirror: bad, CacheDir: cache, Keyring: keyring(t, "http://127.0.0.1:1/"), HTTP: http.DefaultClient}
	if _, err := Fetch(context.Background(), o, "1.18.0"); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("HTML signature: %v", err)
	}
	o.Mirror = mirror
	tb, err := Fetch(context.Background(), o, "1.18.0")
	if err != nil || !strings.Contains(tb.Verified, "signature by Maxim Dounin") {
		t.Fatalf("good mirror after a poisoned one: %+v, %v", tb, err)
	}
}

func TestFetchPinnedChecksum(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	o := Options{Mirror: mirror, CacheDir: t.TempDir(), Keyring: keyring(t, "http://127.0.0.1:1/"), HTTP: http.DefaultClient}
	// Debian's archive has no .asc for 1.22.1: nothing verifies it.
	_, err := Fetch(context.Background(), o, "1.22.1")
	if !errors.Is(err, ErrUnverified) || !strings.Contains(err.Error(), "nginx.sha256") {
		t.Fatalf("unverifiable tarball: %v", err)
	}
	o.SHA256 = map[string]string{"1.22.1": strings.ToUpper(sha1221)}
	tb, err := Fetch(context.Background(), o, "1.22.1")
	if err != nil || tb.Verified != "pinned sha256" {
		t.Fatalf("pinned: %+v, %v", tb, err)
	}
	o.SHA256 = nil
	o.InsecureSkipVerify = true
	tb, err = Fetch(context.Background(), o, "1.22.1")
	if err != nil || tb.Verified != "NOT VERIFIED" {
		t.Errorf("insecure: %+v, %v", tb, err)
	}
}

func TestFetchMissingVersion(t *testing.T) {
	t.Parallel()
	o := Options{Mirror: serve(t, t.TempDir()), CacheDir: t.TempDir(), Keyring: keyring(t, ""), HTTP: http.DefaultClient}
	_, err := Fetch(context.Background(), o, "1.99.0")
	if err == nil || !strings.Contains(err.Error(), "download nginx 1.99.0: GET ") || !strings.Contains(err.Error(), "404") {
		t.Errorf("err = %v", err)
	}
}

// TestUnpinnedKeyRefused signs a tarball with a fresh key that a fake
// nginx.org key server offers as a signer's key: its fingerprint is not
// pinned, so the signature is refused.
func TestUnpinnedKeyRefused(t *testing.T) {
	t.Parallel()
	e, err := openpgp.NewEntity("Mallory", "", "mallory@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("not nginx")
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	e.Serialize(w)
	w.Close()
	keys := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.Write(pub.Bytes()) }))
	t.Cleanup(keys.Close)

	_, err = keyring(t, keys.URL+"/").Verify(context.Background(), bytes.NewReader(data), sig.Bytes())
	if err == nil || !strings.Contains(err.Error(), "is not a pinned nginx signing key") {
		t.Errorf("err = %v", err)
	}
}

func TestExtractRealTarball(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	f, err := os.Open(filepath.Join(mirror, "nginx-1.22.1.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dest := t.TempDir()
	root, err := Extract(f, dest)
	if err != nil {
		t.Fatal(err)
	}
	if root != filepath.Join(dest, "nginx-1.22.1") {
		t.Errorf("root = %s", root)
	}
	fi, err := os.Stat(filepath.Join(root, "configure"))
	if err != nil || fi.Mode()&0o100 == 0 {
		t.Errorf("configure missing or not executable: %v", err)
	}
}

type entry struct {
	name, link string
	typ        byte
	body       string
}

func archive(t testing.TB, entries ...entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if e.typ == tar.TypeXGlobalHeader { // as git archive writes it
			h = &tar.Header{Name: e.name, Typeflag: e.typ, PAXRecords: map[string]string{"comment": "0123abcd"}}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

var slips = map[string][]entry{
	"dot-dot":            {{name: "nginx/../../evil", typ: tar.TypeReg, body: "x"}},
	"absolute":           {{name: "/tmp/evil", typ: tar.TypeReg, body: "x"}},
	"symlink-out":        {{name: "nginx/link", link: "../../etc", typ: tar.TypeSymlink}},
	"symlink-absolute":   {{name: "nginx/link", link: "/etc", typ: tar.TypeSymlink}},
	"write-through-link": {{name: "nginx/dir", link: ".", typ: tar.TypeSymlink}, {name: "nginx/dir/x", typ: tar.TypeReg, body: "x"}},
	"hardlink-out":       {{name: "nginx/hard", link: "../outside", typ: tar.TypeLink}},
	"char-device":        {{name: "nginx/tty", typ: tar.TypeChar}},
	"block-device":       {{name: "nginx/sda", typ: tar.TypeBlock}},
	"fifo":               {{name: "nginx/fifo", typ: tar.TypeFifo}},
	"backslash":          {{name: "nginx\\..\\..\\evil", typ: tar.TypeReg, body: "x"}},
	// Issue 15: a link deep in the tree pointing back up, a second link
	// whose text cancels the first ("s/..") but whose resolution on disk
	// climbs out, a hardlink through it to a file outside, then a
	// regular file of that name that would overwrite the outside file.
	"chained-links": chainedLinks("outside-victim"),
	"hardlink-to-link": {{name: "nginx/l", link: "a", typ: tar.TypeSymlink},
		{name: "nginx/h", link: "nginx/l", typ: tar.TypeLink}},
	"hardlink-to-missing": {{name: "nginx/h", link: "nginx/nothing", typ: tar.TypeLink}},
}

// chainedLinks is the escape found in issue 15's probe: s resolves to
// dest, so e ("a/b/c/d/s/..", which reads as a/b/c/d) resolves to dest's
// parent, and victim is a file there.
func chainedLinks(victim string) []entry {
	return []entry{
		{name: "a/b/c/d/s", link: "../../../..", typ: tar.TypeSymlink},
		{name: "e", link: "a/b/c/d/s/..", typ: tar.TypeSymlink},
		{name: "h", link: "e/" + victim, typ: tar.TypeLink},
		{name: "h", typ: tar.TypeReg, body: "overwritten"},
	}
}

func TestExtractRefusesTarSlip(t *testing.T) {
	t.Parallel()
	for name, entries := range slips {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dest := filepath.Join(t.TempDir(), "dest")
			_, err := Extract(bytes.NewReader(archive(t, entries...)), dest)
			if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Errorf("err = %v, want a refusal", err)
			}
			assertContained(t, filepath.Dir(dest), dest)
		})
	}
}

func TestExtractGarbage(t *testing.T) {
	t.Parallel()
	for _, in := range [][]byte{nil, []byte("not gzip"), archive(t)[:20]} {
		if _, err := Extract(bytes.NewReader(in), t.TempDir()); err == nil {
			t.Errorf("Extract(%q) accepted garbage", in)
		}
	}
}

// assertContained fails if anything but dest appeared in parent.
func assertContained(t testing.TB, parent, dest string) {
	t.Helper()
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if filepath.Join(parent, e.Name()) != dest {
			t.Errorf("extraction wrote %s outside %s", e.Name(), dest)
		}
	}
}

// TestExtractChainedLinksLeaveOutsideAlone is issue 15's regression
// test on real files: the victim beside the destination keeps its bytes.
func TestExtractChainedLinksLeaveOutsideAlone(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	victim := filepath.Join(parent, "victim")
	if err := os.WriteFile(victim, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(parent, "dest")
	_, err := Extract(bytes.NewReader(archive(t, chainedLinks("victim")...)), dest)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "original" {
		t.Errorf("the file outside the destination now holds %q", b)
	}
}

func FuzzExtract(f *testing.F) {
	for _, entries := range slips {
		f.Add(archive(f, entries...))
	}
	f.Add(archive(f, entry{name: "nginx/", typ: tar.TypeDir}, entry{name: "nginx/a", typ: tar.TypeReg, body: "ok"},
		entry{name: "nginx/l", link: "a", typ: tar.TypeSymlink}, entry{name: "nginx/h", link: "nginx/a", typ: tar.TypeLink}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "dest")
		Extract(bytes.NewReader(data), dest)
		assertContained(t, parent, dest)
		filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode()&os.ModeSymlink != 0 {
				target, _ := filepath.EvalSymlinks(p)
				if target != "" {
					if rel, _ := filepath.Rel(dest, target); strings.HasPrefix(rel, "..") {
						t.Errorf("link %s escapes to %s", p, target)
					}
				}
			}
			if err == nil && !fi.Mode().IsRegular() && !fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("special file %s extracted", p)
			}
			return nil
		})
	})
}

func TestExtractSkipsPaxGlobalHeader(t *testing.T) {
	t.Parallel()
	dest := t.TempDir()
	root, err := Extract(bytes.NewReader(archive(t,
		entry{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
		entry{name: "mod-1.0/config", typ: tar.TypeReg, body: "x"})), dest)
	if err != nil || root != filepath.Join(dest, "mod-1.0") {
		t.Errorf("root %s, err %v", root, err)
	}
}

// TestFetchUnreachableMirrorNamesTheFlag: offline, the error says which
// flag works without the network (issue 16).
func TestFetchUnreachableMirrorNamesTheFlag(t *testing.T) {
	t.Parallel()
	o := Options{Mirror: "http://127.0.0.1:1/", CacheDir: t.TempDir(), Keyring: keyring(t, "http://127.0.0.1:1/"), HTTP: http.DefaultClient}
	_, err := Fetch(context.Background(), o, "1.26.3")
	if err == nil || !strings.Contains(err.Error(), "is unreachable (offline?): pass --mirror DIR holding nginx-1.26.3.tar.gz") {
		t.Errorf("err = %v", err)
	}
}

// TestPinnedStandsForAnUnknownSigner: a mirror's .asc made by a key the
// ring lacks, while nginx.org's key server is unreachable, is no proof
// either way; a pinned SHA-256 that matches still verifies the tarball,
// and says why the signature was not used.
func TestPinnedStandsForAnUnknownSigner(t *testing.T) {
	t.Parallel()
	e, err := openpgp.NewEntity("Someone", "", "someone@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := []byte("an nginx tarball signed by a key nobody pinned")
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "nginx-1.99.1.tar.gz"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "nginx-1.99.1.tar.gz.asc"), sig.Bytes(), 0o644)
	sum := sha256.Sum256(data)
	o := Options{Mirror: dir, CacheDir: t.TempDir(), Keyring: keyring(t, "http://127.0.0.1:1/"), HTTP: http.DefaultClient}

	_, err = Fetch(context.Background(), o, "1.99.1")
	if err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("unpinned, unknown signer: %v", err)
	}
	o.SHA256 = map[string]string{"1.99.1": hex.EncodeToString(sum[:])}
	tb, err := Fetch(context.Background(), o, "1.99.1")
	if err != nil || tb.Proof != Pinned || !strings.Contains(tb.Verified, "signer's key unavailable") {
		t.Fatalf("pinned, unknown signer: %+v, %v", tb, err)
	}
}
