// Package source gets nginx release sources: it downloads a tarball and
// its signature from a mirror (a URL or a local directory) into a cache,
// verifies it by OpenPGP signature or a pinned SHA-256, and extracts it
// safely.
package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// maxTarball bounds a download: nginx tarballs are about 1.3 MB.
const maxTarball = 256 << 20

// Options say where sources come from and how they are checked.
type Options struct {
	// Mirror is a URL ("https://nginx.org/download/") or a local directory
	// holding nginx-X.Y.Z.tar.gz and, ideally, nginx-X.Y.Z.tar.gz.asc.
	Mirror string
	// CacheDir keeps downloads between runs.
	CacheDir string
	// SHA256 pins tarball checksums by nginx version.
	SHA256 map[string]string
	// InsecureSkipVerify accepts a tarball nothing can verify.
	InsecureSkipVerify bool
	Keyring            *Keyring
	HTTP               *http.Client
}

// Tarball is a downloaded, verified nginx source tarball.
type Tarball struct {
	Version string `json:"version"`
	Path    string `json:"-"`
	SHA256  string `json:"sha256"`
	// Proof is what proved the bytes nginx's.
	Proof Proof `json:"proof"`
	// Verified says it for people: "signature by Maxim Dounin (B0F4…)",
	// "pinned sha256", or "NOT VERIFIED".
	Verified string `json:"verified"`
}

// Proof is what proved a tarball to be the release nginx published.
type Proof string

const (
	// Signed: an nginx signing key's OpenPGP signature verified.
	Signed Proof = "signature"
	// Pinned: the SHA-256 the config pins matched.
	Pinned Proof = "pinned"
	// Unverified: nothing did (--insecure-skip-verify).
	Unverified Proof = "none"
)

// ErrUnverified is returned for a tarball that has no usable signature
// and no pinned checksum.
var ErrUnverified = errors.New("unverified")

// ErrMismatch is returned for a tarball whose bytes are not the ones its
// pinned checksum or its signature vouch for: no retry will change that.
var ErrMismatch = errors.New("the bytes are not the release's")

// Fetch downloads nginx-<version>.tar.gz (or reuses a verified copy
// from the cache) and verifies it. A pinned SHA-256 must match; a
// signature, when the mirror has one, must verify against a pinned nginx
// signing key. Only a verified tarball enters the cache, stored under its
// SHA-256 with how it was verified: a mirror that once served a bad file
// or a bad signature leaves nothing behind for later runs to trip on.
func Fetch(ctx context.Context, o Options, version string) (Tarball, error) {
	name := "nginx-" + version + ".tar.gz"
	t := Tarball{Version: version}
	dir := filepath.Join(o.CacheDir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t, err
	}
	pinned := strings.ToLower(o.SHA256[version])
	if c, ok := cached(dir, version, pinned); ok {
		return c, nil
	}
	data, err := fetchFile(ctx, o, name)
	if err != nil {
		if Unreachable(err) {
			return t, fmt.Errorf("download nginx %s: %w\nthe mirror %s is unreachable (offline?): pass --mirror DIR holding %s (and its .asc, or pin its SHA-256 under nginx.sha256)", version, err, o.Mirror, name)
		}
		return t, fmt.Errorf("download nginx %s: %w", version, err)
	}
	sum := sha256.Sum256(data)
	t.SHA256 = hex.EncodeToString(sum[:])
	if pinned != "" && pinned != t.SHA256 {
		return t, fmt.Errorf("nginx %s: %s has SHA-256 %s, but the config pins %s: the mirror (%s) serves a different file (%w)",
			version, name, t.SHA256, pinned, o.Mirror, ErrMismatch)
	}
	sig, sigErr := fetchFile(ctx, o, name+".asc")
	if errors.Is(sigErr, os.ErrNotExist) { // no .asc in the directory, or a 404
		sig, sigErr = nil, nil
	}
	switch {
	case sig != nil:
		s, err := o.Keyring.Verify(ctx, bytes.NewReader(data), sig)
		switch {
		case err == nil:
			t.Proof, t.Verified = Signed, fmt.Sprintf("signature by %s (%s)", s.Name, s.Fingerprint)
		case pinned != "" && errors.Is(err, pgperrors.ErrUnknownIssuer):
			t.Proof, t.Verified = Pinned, "pinned sha256 (signer's key unavailable: "+err.Error()+")"
		default:
			return t, fmt.Errorf("nginx %s: signature %s.asc does not verify (mirror %s; nothing was cached): %w (%w)", version, name, o.Mirror, err, ErrMismatch)
		}
	case pinned != "":
		t.Proof, t.Verified = Pinned, "pinned sha256"
	case o.InsecureSkipVerify:
		t.Proof, t.Verified = Unverified, "NOT VERIFIED"
	default:
		why := "the mirror has no " + name + ".asc"
		if sigErr != nil {
			why = sigErr.Error()
		}
		return t, fmt.Errorf("nginx %s: cannot verify %s (%s): pin its SHA-256 under nginx.sha256 in the config, "+
			"use a mirror that serves signatures, or pass --insecure-skip-verify: %w", version, name, why, ErrUnverified)
	}
	t.Path = filepath.Join(dir, "sha256-"+t.SHA256+".tar.gz")
	if err := atomicfile.Write(t.Path, data, 0o644); err != nil {
		return t, err
	}
	if t.Proof != Unverified {
		rec, _ := json.Marshal(t)
		if err := atomicfile.Write(filepath.Join(dir, "verified-"+version+".json"), rec, 0o644); err != nil {
			return t, err
		}
	}
	return t, nil
}

// Unreachable reports a network failure (no such host, connection
// refused or timed out): the error that means "offline", which callers
// answer by naming the flag that works without the network.
func Unreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || errors.As(err, &op)
}

// cached returns a verified tarball from the cache: its record names the
// content file by SHA-256, and the bytes must still hash to it (and to
// the pin, when there is one).
func cached(dir, version, pinned string) (Tarball, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "verified-"+version+".json"))
	if err != nil {
		return Tarball{}, false
	}
	var t Tarball
	if json.Unmarshal(b, &t) != nil || t.Version != version || len(t.SHA256) != 64 || (pinned != "" && pinned != t.SHA256) ||
		(t.Proof != Signed && t.Proof != Pinned) {
		return Tarball{}, false
	}
	// A pin verified it: it stands only while the config still pins it.
	if t.Proof == Pinned && pinned == "" {
		return Tarball{}, false
	}
	t.Path = filepath.Join(dir, "sha256-"+t.SHA256+".tar.gz")
	data, err := os.ReadFile(t.Path)
	if err != nil {
		return Tarball{}, false
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != t.SHA256 {
		return Tarball{}, false
	}
	return t, true
}

// fetchFile reads name from the mirror: a local directory or a URL.
func fetchFile(ctx context.Context, o Options, name string) ([]byte, error) {
	if dir, ok := fetch.LocalDir(o.Mirror); ok {
		return userfile.Read(filepath.Join(dir, name), maxTarball)
	}
	return get(ctx, o.HTTP, strings.TrimSuffix(o.Mirror, "/")+"/"+name)
}
