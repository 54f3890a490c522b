// Package install puts built modules under an nginx: it finds what the
// nginx is (version, signature, architecture, paths, distro), picks the
// matching build from a release manifest, verifies it before touching
// anything, places it atomically with the host's load_module snippet,
// runs nginx -t and restores every file exactly when that fails.
package install

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/preflight"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// Host is the nginx an install targets.
type Host struct {
	// Binary is the nginx executable; Target what it says of itself.
	Binary string
	Target preflight.Target
	// Configure is its configure arguments (nginx -V).
	Configure string
	// ModulesPath is where its modules live (--modules-path, else
	// PREFIX/modules); ConfPath its main configuration file.
	ModulesPath, ConfPath string
	// SHA256 is the binary's checksum: a build made like exactly this
	// binary (manifest.Entry.Target) is picked first.
	SHA256 string
	// Distro is the host's distro as the build table names it
	// (debian-12), from /etc/os-release; Arch the binary's (amd64, arm64).
	Distro, Arch string
}

// Inspect reads an nginx binary and the host's /etc/os-release text.
func Inspect(binary, osRelease string) (*Host, error) {
	f, err := modinfo.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("read nginx binary %s: %w (point --nginx-binary at the nginx that runs)", binary, err)
	}
	t, err := preflight.FromBinary(binary, f)
	if err != nil {
		return nil, fmt.Errorf("%w (point --nginx-binary at the nginx that runs)", err)
	}
	h := &Host{Binary: binary, Target: t, Configure: f.Configure, Arch: ArchOf(f.Machine)}
	if sum, err := fileSHA256(binary); err == nil {
		h.SHA256 = sum
	}
	prefix := t.Prefix
	if prefix == "" {
		prefix = preflight.DefaultPrefix
	}
	h.ModulesPath = configureValue(f.Configure, "modules-path")
	if h.ModulesPath == "" {
		h.ModulesPath = filepath.Join(prefix, "modules")
	}
	h.ConfPath = configureValue(f.Configure, "conf-path")
	if h.ConfPath == "" {
		h.ConfPath = filepath.Join(prefix, "conf", "nginx.conf")
	} else if !filepath.IsAbs(h.ConfPath) {
		h.ConfPath = filepath.Join(prefix, h.ConfPath)
	}
	if osRelease != "" {
		if d, err := distro.FromOSRelease(osRelease); err == nil {
			h.Distro = d.Name
		}
	}
	return h, nil
}

// ArchOf spells an ELF machine the way build cells do.
func ArchOf(machine string) string {
	switch machine {
	case "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	}
	return machine
}

// configureValue finds --name=value in configure arguments.
func configureValue(configure, name string) string {
	re := regexp.MustCompile(`(?:^|\s)--` + regexp.QuoteMeta(name) + `=(?:'([^']*)'|"([^"]*)"|(\S+))`)
	if m := re.FindStringSubmatch(configure); m != nil {
		return strings.TrimSpace(m[1] + m[2] + m[3])
	}
	return ""
}

// fileSHA256 is the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// loadPath is the file a load_module argument names: relative ones from
// nginx's prefix (its --prefix, else nginx's default), as nginx reads it.
func (h *Host) loadPath(arg string) string {
	if filepath.IsAbs(arg) {
		return arg
	}
	prefix := h.Target.Prefix
	if prefix == "" {
		prefix = preflight.DefaultPrefix
	}
	return filepath.Join(prefix, arg)
}
