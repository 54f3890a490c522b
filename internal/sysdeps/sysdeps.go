// Package sysdeps installs what a module build needs on the build host: a
// C compiler, make, PCRE, zlib and OpenSSL headers, and the libraries
// modules declare, with the distribution's package manager.
package sysdeps

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/distro"
)

// OSRelease parses /etc/os-release text into the distro it names: a
// built-in entry when there is one, otherwise a custom one whose family is
// guessed from ID and ID_LIKE.
func OSRelease(text string) (distro.Distro, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	id, ver := kv["ID"], kv["VERSION_ID"]
	switch id {
	case "rocky", "almalinux", "fedora":
		ver, _, _ = strings.Cut(ver, ".")
	case "alpine":
		if p := strings.Split(ver, "."); len(p) >= 2 {
			ver = p[0] + "." + p[1]
		}
	}
	name := id + "-" + ver
	if d, ok := distro.Lookup(name); ok {
		return d, nil
	}
	for _, like := range append([]string{id}, strings.Fields(kv["ID_LIKE"])...) {
		switch like {
		case "debian", "ubuntu":
			return distro.Custom(name, "", distro.Apt), nil
		case "fedora", "rhel", "centos":
			return distro.Custom(name, "", distro.Dnf), nil
		case "alpine":
			return distro.Custom(name, "", distro.Apk), nil
		}
	}
	return distro.Distro{}, fmt.Errorf("unknown distribution %q in /etc/os-release: install a C compiler, make and the PCRE, zlib and OpenSSL headers yourself", name)
}

// libPackages maps the libraries a module's config declares
// (ngx_module_libs) to package names per family.
var libPackages = map[string]map[distro.Family]string{
	"LIBXSLT": {distro.Apt: "libxslt1-dev", distro.Dnf: "libxslt-devel", distro.Yum: "libxslt-devel", distro.Apk: "libxslt-dev"},
	"LIBGD":   {distro.Apt: "libgd-dev", distro.Dnf: "gd-devel", distro.Yum: "gd-devel", distro.Apk: "gd-dev"},
	"GEOIP":   {distro.Apt: "libgeoip-dev", distro.Dnf: "GeoIP-devel", distro.Yum: "GeoIP-devel", distro.Apk: "geoip-dev"},
	"PERL":    {distro.Apt: "libperl-dev", distro.Dnf: "perl-devel", distro.Yum: "perl-devel", distro.Apk: "perl-dev"},
}

// Packages lists what to install: the distro's build packages (legacy
// PCRE too when legacyPCRE, for nginx before 1.21.5) and the packages of
// the declared libraries.
func Packages(d distro.Distro, legacyPCRE bool, libs []string) []string {
	out := d.Packages.All(false)
	if legacyPCRE && d.Packages.PCRE != "" {
		out = append(out, d.Packages.PCRE)
	}
	for _, l := range libs {
		if p := libPackages[l][d.Family]; p != "" && !slices.Contains(out, p) {
			out = append(out, p)
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

// InstallCommands are the argvs that install pkgs.
func InstallCommands(f distro.Family, pkgs []string) [][]string {
	switch f {
	case distro.Apt:
		// Wait for another apt or dpkg (unattended upgrades on a runner)
		// instead of failing at once.
		return [][]string{{"apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q"},
			append([]string{"apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends"}, pkgs...)}
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

// Install installs the packages that are missing, printing each command
// it runs; with everything present it runs no installer (idempotent).
func Install(ctx context.Context, d distro.Distro, pkgs []string, run Runner, log io.Writer) error {
	var missing []string
	for _, p := range pkgs {
		out, err := run(ctx, CheckCommand(d.Family, p))
		if err != nil || (d.Family == distro.Apt && !strings.Contains(string(out), "install ok installed")) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		fmt.Fprintf(log, "install-deps: %s: all %d packages installed (%s)\n", d.Name, len(pkgs), strings.Join(pkgs, " "))
		return nil
	}
	for _, argv := range InstallCommands(d.Family, missing) {
		fmt.Fprintf(log, "+ %s\n", strings.Join(argv, " "))
		if out, err := run(ctx, argv); err != nil {
			return fmt.Errorf("install-deps on %s: %s: %w\n%s", d.Name, strings.Join(argv, " "), err, tail(string(out)))
		}
	}
	return nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
