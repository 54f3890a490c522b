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
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	// Verified says how: "signature by Maxim Dounin (B0F4…)", "pinned
	// sha256", or "NOT VERIFIED".
	Verified string `json:"verified"`
}

// ErrUnverified is returned for a tarball that has no usable signature
// and no pinned checksum.
var ErrUnverified = errors.New("unverified")

// Fetch downloads (or reuses from the cache) nginx-<version>.tar.gz and
// verifies it. A pinned SHA-256 must match; a signature, when the mirror
// has one, must verify against a pinned nginx signing key.
func Fetch(ctx context.Context, o Options, version string) (Tarball, error) {
	name := "nginx-" + version + ".tar.gz"
	t := Tarball{Version: version}
	dir := filepath.Join(o.CacheDir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t, err
	}
	t.Path = filepath.Join(dir, name)
	if _, err := os.Stat(t.Path); err != nil {
		if err := download(ctx, o, name, t.Path); err != nil {
			return t, fmt.Errorf("download nginx %s: %w", version, err)
		}
	}
	sig, sigErr := signature(ctx, o, name, t.Path+".asc")
	data, err := os.ReadFile(t.Path)
	if err != nil {
		return t, err
	}
	sum := sha256.Sum256(data)
	t.SHA256 = hex.EncodeToString(sum[:])

	pinned := strings.ToLower(o.SHA256[version])
	if pinned != "" && pinned != t.SHA256 {
		os.Remove(t.Path) // a bad download must not stay in the cache
		return t, fmt.Errorf("nginx %s: %s has SHA-256 %s, but the config pins %s: the mirror (%s) serves a different file",
			version, name, t.SHA256, pinned, o.Mirror)
	}
	switch {
	case sig != nil:
		s, err := o.Keyring.Verify(ctx, bytes.NewReader(data), sig)
		if err != nil {
			if pinned != "" && strings.Contains(err.Error(), "unknown entity") {
				t.Verified = "pinned sha256 (signer's key unavailable: " + err.Error() + ")"
				return t, nil
			}
			os.Remove(t.Path)
			return t, fmt.Errorf("nginx %s: signature %s.asc does not verify: %w", version, name, err)
		}
		t.Verified = fmt.Sprintf("signature by %s (%s)", s.Name, s.Fingerprint)
	case pinned != "":
		t.Verified = "pinned sha256"
	case o.InsecureSkipVerify:
		t.Verified = "NOT VERIFIED"
	default:
		why := "the mirror has no " + name + ".asc"
		if sigErr != nil {
			why = sigErr.Error()
		}
		return t, fmt.Errorf("nginx %s: cannot verify %s (%s): pin its SHA-256 under nginx.sha256 in the config, "+
			"use a mirror that serves signatures, or pass --insecure-skip-verify: %w", version, name, why, ErrUnverified)
	}
	return t, nil
}

// signature returns the tarball's .asc from the cache or the mirror; nil
// when the mirror has none.
func signature(ctx context.Context, o Options, name, cached string) ([]byte, error) {
	if b, err := os.ReadFile(cached); err == nil {
		return b, nil
	}
	err := download(ctx, o, name+".asc", cached)
	var se *statusError
	switch {
	case err == nil:
		return os.ReadFile(cached)
	case errors.Is(err, os.ErrNotExist), errors.As(err, &se) && se.code == http.StatusNotFound:
		return nil, nil
	}
	return nil, err
}

// download copies name from the mirror to dst atomically.
func download(ctx context.Context, o Options, name, dst string) error {
	var data []byte
	if dir, ok := LocalDir(o.Mirror); ok {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		data = b
	} else {
		b, err := get(ctx, o.HTTP, strings.TrimSuffix(o.Mirror, "/")+"/"+name)
		if err != nil {
			return err
		}
		data = b
	}
	return writeFile(dst, data)
}

// LocalDir returns the directory a mirror names when it is a local one:
// a path, or a file:// URL.
func LocalDir(mirror string) (string, bool) {
	if strings.HasPrefix(mirror, "file://") {
		return strings.TrimPrefix(mirror, "file://"), true
	}
	return mirror, !strings.Contains(mirror, "://")
}

func writeFile(dst string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, bytes.NewReader(data)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
