package machine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestMachineFromItsFiles reads a machine that is a directory tree: the
// distro from its os-release, the container marker, programs on PATH.
func TestMachineFromItsFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr", "bin"), 0o755)
	m := &Machine{Root: root, Path: "/usr/local/bin:/usr/bin"}
	if m.DistroName() != "local" || m.InContainer() || m.Nginx() != PackagedNginx {
		t.Errorf("empty machine: %s, container %t, nginx %s", m.DistroName(), m.InContainer(), m.Nginx())
	}
	os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\nVERSION_ID=\"13\"\n"), 0o644)
	os.WriteFile(filepath.Join(root, ".dockerenv"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "usr", "bin", "nginx"), []byte("#!/bin/sh\n"), 0o755)
	if d, err := m.Distro(); err != nil || d.Name != "debian-13" || m.DistroName() != "debian-13" {
		t.Errorf("distro = %+v, %v", d, err)
	}
	if !m.InContainer() {
		t.Error("a machine with /.dockerenv is not a container")
	}
	if got := m.Nginx(); got != "/usr/bin/nginx" {
		t.Errorf("nginx = %s", got)
	}
	// A file that is not executable is not a program.
	os.Chmod(filepath.Join(root, "usr", "bin", "nginx"), 0o644)
	if got := m.Nginx(); got != PackagedNginx {
		t.Errorf("non-executable nginx found: %s", got)
	}
	os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("ID=plan9\n"), 0o644)
	if m.DistroName() != "local" {
		t.Errorf("unknown distro named %s", m.DistroName())
	}
}

// TestCompilerOfThisMachine asks the real cc, as build does.
func TestCompilerOfThisMachine(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "cc", "gcc")
	c, err := Local(os.Getenv).Compiler(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Version, "gcc") && !strings.Contains(c.Version, "cc (") {
		t.Errorf("version = %q", c.Version)
	}
	if !strings.HasPrefix(filepath.Base(c.Loader), "ld-linux") {
		t.Errorf("loader = %q", c.Loader)
	}
	if _, err := (&Machine{Root: "/", Path: t.TempDir()}).Compiler(context.Background()); err == nil || !strings.Contains(err.Error(), "--install-deps") {
		t.Errorf("no cc on PATH: %v", err)
	}
}

// TestPackageState: the state follows the package database's bytes; a
// machine with none has none.
func TestPackageState(t *testing.T) {
	root := t.TempDir()
	m := &Machine{Root: root}
	if s := m.PackageState(); s != "" {
		t.Errorf("no database: %q", s)
	}
	db := filepath.Join(root, "var", "lib", "dpkg", "status")
	os.MkdirAll(filepath.Dir(db), 0o755)
	os.WriteFile(db, []byte("Package: nginx\nStatus: install ok installed\n"), 0o644)
	before := m.PackageState()
	os.WriteFile(db, []byte("Package: nginx\nStatus: install ok installed\n\nPackage: libgd-dev\nStatus: install ok installed\n"), 0o644)
	if after := m.PackageState(); before == "" || after == before {
		t.Errorf("state %q, then %q", before, after)
	}
}
