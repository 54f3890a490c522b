// Package machine is what a command learns about the machine it runs on:
// its distribution (/etc/os-release), whether it is a container, its C
// compiler and the nginx on its PATH. The entry point makes one Machine
// and hands it to the commands; nothing else reads these.
package machine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/ldso"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// PackagedNginx is where every package family puts its nginx binary.
const PackagedNginx = "/usr/sbin/nginx"

// Machine is the machine a command runs on.
type Machine struct {
	// Root is the file system's root: "/", or a test's tree.
	Root string
	// Path is the PATH programs are looked up in; when empty, getenv's
	// PATH, read when a program is looked up.
	Path   string
	getenv func(string) string
}

// Local is the machine this process runs on, with the environment getenv
// reads.
func Local(getenv func(string) string) *Machine {
	return &Machine{Root: "/", getenv: getenv}
}

func (m *Machine) path() string {
	if m.Path == "" && m.getenv != nil {
		return m.getenv("PATH")
	}
	return m.Path
}

func (m *Machine) file(p string) string { return filepath.Join(m.Root, p) }

// OSRelease is the text of /etc/os-release ("" when there is none).
func (m *Machine) OSRelease() string {
	b, err := os.ReadFile(m.file("/etc/os-release"))
	if err != nil {
		return ""
	}
	return string(b)
}

// Distro is the distribution /etc/os-release names.
func (m *Machine) Distro() (distro.Distro, error) {
	text := m.OSRelease()
	if text == "" {
		return distro.Distro{}, errors.New("no /etc/os-release: the distribution is unknown")
	}
	return distro.FromOSRelease(text)
}

// DistroName names the machine as the distro table does (debian-12);
// "local" when the table has no such distro.
func (m *Machine) DistroName() string {
	d, err := m.Distro()
	if err != nil {
		return "local"
	}
	if _, ok := distro.Lookup(d.Name); !ok {
		return "local"
	}
	return d.Name
}

// InContainer reports whether this runs in a container (Docker's and
// Podman's marker files): a job container, where a cell really runs.
func (m *Machine) InContainer() bool {
	for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(m.file(f)); err == nil {
			return true
		}
	}
	return false
}

// LookPath finds a program on the machine's PATH.
func (m *Machine) LookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(m.path()) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(m.file(p)); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

// Nginx is the nginx an operator means by "nginx": the one on PATH, else
// where packages put it.
func (m *Machine) Nginx() string {
	if p, err := m.LookPath("nginx"); err == nil {
		return p
	}
	return PackagedNginx
}

// NginxCandidates are the places an installed nginx may be, most likely
// first: where packages and source installs put it, then PATH.
func (m *Machine) NginxCandidates() []string {
	out := []string{PackagedNginx, "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"}
	for _, dir := range filepath.SplitList(m.path()) {
		if dir != "" {
			out = append(out, filepath.Join(dir, "nginx"))
		}
	}
	return out
}

// Compiler is the C compiler a build uses, as this machine has it.
type Compiler struct {
	// Version is the first line of `cc --version`: it goes into the cell
	// manifest and keys the smoke nginx cache.
	Version string
	// Loader is the dynamic loader the compiler's programs name: it
	// defines symbols (__tls_get_addr) every loaded object may use.
	Loader string
}

// Compiler asks the machine's cc. Ask after installing build
// dependencies: the compiler may be one of them.
func (m *Machine) Compiler(ctx context.Context) (Compiler, error) {
	cc, err := m.LookPath("cc")
	if err != nil {
		return Compiler{}, fmt.Errorf("no C compiler: %w (install one, or build with --install-deps)", err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, cc, "--version")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return Compiler{}, fmt.Errorf("%s --version: %w", cc, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	return Compiler{Version: first, Loader: ldso.Interpreter(m.file(cc))}, nil
}

// packageDatabases are the files each package manager rewrites when a
// package is installed or removed.
var packageDatabases = []string{"/var/lib/dpkg/status", "/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/lib/apk/db/installed"}

// PackageState names the installed packages' state: the SHA-256 of the
// package manager's database, "" when there is none. Two builds with the
// same state saw the same libraries and headers.
func (m *Machine) PackageState() string {
	h := sha256.New()
	found := false
	for _, p := range packageDatabases {
		f, err := os.Open(m.file(p))
		if err != nil {
			continue
		}
		io.Copy(h, f)
		f.Close()
		found = true
	}
	if !found {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
