package sysdeps

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// OwnerCommand is the argv that prints the package owning file.
func OwnerCommand(f distro.Family, file string) []string {
	switch f {
	case distro.Apt:
		return []string{"dpkg-query", "-S", file}
	case distro.Apk:
		return []string{"apk", "info", "-q", "--who-owns", file}
	}
	return []string{"rpm", "-qf", "--qf", "%{NAME}\n", file}
}

// Owner is the installed package that owns file (a library a .so
// links: its runtime package, as dpkg-shlibdeps finds it), asked of the
// package manager. The file is also asked by its resolved path and by
// its other merged-/usr name (/lib/… for /usr/lib/… and back), as a
// package lists only the names it ships.
func Owner(ctx context.Context, run Runner, f distro.Family, file string) (string, error) {
	var paths []string
	add := func(p string) {
		if !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
		// Merged /usr: a package may list /lib/… (Debian 12's zlib1g)
		// while the loader finds /usr/lib/…, or the other way round.
		if rest, ok := strings.CutPrefix(p, "/usr/lib/"); ok && !slices.Contains(paths, "/lib/"+rest) {
			paths = append(paths, "/lib/"+rest)
		} else if rest, ok := strings.CutPrefix(p, "/lib/"); ok && !slices.Contains(paths, "/usr/lib/"+rest) {
			paths = append(paths, "/usr/lib/"+rest)
		}
	}
	add(file)
	if r, err := filepath.EvalSymlinks(file); err == nil {
		add(r)
	}
	var lastErr error
	for _, p := range paths {
		out, err := run(ctx, OwnerCommand(f, p))
		if err != nil {
			lastErr = fmt.Errorf("%s: %w: %s", strings.Join(OwnerCommand(f, p), " "), err, strings.TrimSpace(string(out)))
			continue
		}
		if pkg := ownerName(f, string(out)); pkg != "" {
			return pkg, nil
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no package owns %s", file)
	}
	return "", lastErr
}

// ownerName reads the package name from the owner command's output:
// dpkg's "libbrotli1:amd64: /usr/lib/…" (the architecture qualifier
// dropped), apk's and rpm's name.
func ownerName(f distro.Family, out string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if f == distro.Apt {
		name, _, ok := strings.Cut(line, ": ")
		if !ok {
			return ""
		}
		name, _, _ = strings.Cut(strings.TrimSpace(strings.Split(name, ",")[0]), ":")
		return name
	}
	if f == distro.Apk {
		// "libbrotli-1.1.0-r2": the name without its version.
		return apkVersion.ReplaceAllString(strings.TrimSpace(line), "")
	}
	return strings.TrimSpace(line)
}

var apkVersion = regexp.MustCompile(`-[0-9][^-]*-r[0-9]+$`)
