// Package sysdeps installs what a module build needs on the build host: a
// C compiler, make, PCRE, zlib and OpenSSL headers, and the libraries
// modules declare, with the distribution's package manager.
package sysdeps

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/lines"
)

// Packages lists what to install: the distro's build packages (legacy
// PCRE too when legacyPCRE, for nginx before 1.21.5) and the packages of
// the nginx library switches a module declared (LIBXSLT, GEOIP, ...: see
// SwitchLibrary), each switch's preferred name.
func Packages(d distro.Distro, legacyPCRE bool, switches []string) []string {
	out := d.Packages.All(false)
	if legacyPCRE && d.Packages.PCRE != "" {
		out = append(out, d.Packages.PCRE)
	}
	for _, sw := range switches {
		if l, ok := SwitchLibrary(sw); ok && len(l.Packages[d.Family]) > 0 && !slices.Contains(out, l.Packages[d.Family][0]) {
			out = append(out, l.Packages[d.Family][0])
		}
	}
	return out
}

// CheckCommand is the argv that succeeds when pkg is installed.
func CheckCommand(f distro.Family, pkg string) []string {
	switch f {
	case distro.Apt:
		return []string{"dpkg-query", "-W", "-f=${Status}", pkg}
	case distro.Apk:
		return []string{"apk", "info", "-e", pkg}
	}
	return []string{"rpm", "-q", "--whatprovides", pkg}
}

// InstallCommands are the argvs that install pkgs (after the index is
// updated).
func InstallCommands(f distro.Family, pkgs []string) [][]string {
	switch f {
	case distro.Apt:
		return [][]string{append([]string{"apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends"}, pkgs...)}
	case distro.Dnf:
		return [][]string{append([]string{"dnf", "install", "-y", "-q"}, pkgs...)}
	case distro.Yum:
		return [][]string{append([]string{"yum", "install", "-y", "-q"}, pkgs...)}
	case distro.Apk:
		return [][]string{append([]string{"apk", "add", "--no-cache"}, pkgs...)}
	}
	return nil
}

// Runner runs a command, returning its output.
type Runner func(ctx context.Context, argv []string) ([]byte, error)

// Exec runs commands for real, with DEBIAN_FRONTEND=noninteractive.
func Exec(ctx context.Context, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(cmd.Environ(), "DEBIAN_FRONTEND=noninteractive")
	return cmd.CombinedOutput()
}

// Installer installs packages with a host's package manager. Names are
// checked against the distribution's own package index before anything
// is installed (Resolve), so a library is installed under the name this
// release of the distribution gives it, and a name the index lacks is
// one module's problem, not a failed apt-get for the whole cell.
type Installer struct {
	Distro distro.Distro
	Run    Runner
	Log    io.Writer
	// refreshed is set once the index was updated (apt-get update, apk
	// update): a bare container has no package lists at all.
	refreshed bool
}

// installed reports whether pkg is installed.
func (in *Installer) installed(ctx context.Context, pkg string) bool {
	out, err := in.Run(ctx, CheckCommand(in.Distro.Family, pkg))
	return err == nil && (in.Distro.Family != distro.Apt || strings.Contains(string(out), "install ok installed"))
}

func (in *Installer) refresh(ctx context.Context) error {
	if in.refreshed {
		return nil
	}
	var argv []string
	switch in.Distro.Family {
	case distro.Apt:
		// Wait for another apt or dpkg (unattended upgrades on a runner)
		// instead of failing at once.
		argv = []string{"apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q"}
	case distro.Apk:
		argv = []string{"apk", "update", "-q"}
	default:
		in.refreshed = true // dnf and yum refresh their metadata themselves
		return nil
	}
	fmt.Fprintf(in.Log, "+ %s\n", strings.Join(argv, " "))
	if out, err := in.Run(ctx, argv); err != nil {
		return fmt.Errorf("update the package index of %s: %s: %w\n%s", in.Distro.Name, strings.Join(argv, " "), err, lines.Last(string(out), 15))
	}
	in.refreshed = true
	return nil
}

// SearchCommand is the argv that asks the package index of family f
// whether pkg can be installed: it succeeds (and, for dnf, yum and apk,
// prints something) when it can. apt simulates the install, which also
// answers for a virtual package one real package provides.
func SearchCommand(f distro.Family, pkg string) []string {
	switch f {
	case distro.Apt:
		return []string{"apt-get", "install", "-s", "-q", "--no-install-recommends", pkg}
	case distro.Dnf:
		return []string{"dnf", "-q", "repoquery", "--whatprovides", pkg}
	case distro.Yum:
		return []string{"yum", "-q", "provides", pkg}
	case distro.Apk:
		return []string{"apk", "search", "-x", pkg}
	}
	return nil
}

// inIndex reports whether the package index can install pkg (Resolve
// has looked for it among the installed ones already).
func (in *Installer) inIndex(ctx context.Context, pkg string) (bool, error) {
	if err := in.refresh(ctx); err != nil {
		return false, err
	}
	out, err := in.Run(ctx, SearchCommand(in.Distro.Family, pkg))
	if err != nil {
		return false, nil
	}
	return in.Distro.Family == distro.Apt || strings.TrimSpace(string(out)) != "", nil
}

// NotInIndex is a library none of whose candidate names the
// distribution's package index has.
type NotInIndex struct {
	Distro     string
	Candidates []string
	Command    []string
}

func (e *NotInIndex) Error() string {
	return fmt.Sprintf("no package of %s is in %s's package index (searched: %s, with %s)",
		strings.Join(e.Candidates, " or "), e.Distro, strings.Join(e.Candidates, ", "), strings.Join(e.Command, " "))
}

// Resolve returns the first candidate that is installed, else the first
// the package index has; a *NotInIndex error says what was searched.
func (in *Installer) Resolve(ctx context.Context, candidates []string) (string, error) {
	for _, c := range candidates {
		if in.installed(ctx, c) {
			return c, nil
		}
	}
	for _, c := range candidates {
		ok, err := in.inIndex(ctx, c)
		if err != nil {
			return "", err
		}
		if ok {
			return c, nil
		}
	}
	cmd := SearchCommand(in.Distro.Family, "NAME")
	return "", &NotInIndex{Distro: in.Distro.Name, Candidates: candidates, Command: cmd[:len(cmd)-1]}
}

// Install installs the packages that are missing, printing each command
// it runs; with everything present it runs no installer (idempotent).
func (in *Installer) Install(ctx context.Context, pkgs []string) error {
	var missing []string
	for _, p := range pkgs {
		if !in.installed(ctx, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		fmt.Fprintf(in.Log, "install-deps: %s: all %d packages installed (%s)\n", in.Distro.Name, len(pkgs), strings.Join(pkgs, " "))
		return nil
	}
	if err := in.refresh(ctx); err != nil {
		return err
	}
	for _, argv := range InstallCommands(in.Distro.Family, missing) {
		fmt.Fprintf(in.Log, "+ %s\n", strings.Join(argv, " "))
		if out, err := in.Run(ctx, argv); err != nil {
			return fmt.Errorf("install-deps on %s: %s: %w\n%s", in.Distro.Name, strings.Join(argv, " "), err, lines.Last(string(out), 15))
		}
	}
	return nil
}
