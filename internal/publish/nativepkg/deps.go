package nativepkg

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/goreleaser/nfpm/v2"

	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
)

// Version is the package version of a module version built for nginx v,
// ordered so that a newer module version, then a newer nginx, is newer:
// deb and rpm <module version>+nginx<v> (0.63+nginx1.22.1); apk, whose
// versions are numbers with fixed suffixes, <numeric module
// version>_p<nginx version number> (0.63_p1022001).
func Version(format, module, nginx string) string {
	if format != "apk" {
		return module + "+nginx" + nginx
	}
	n, _ := modinfo.VersionNumber(nginx)
	num := regexp.MustCompile(`^[0-9]+(\.[0-9]+)*`).FindString(module)
	if num == "" {
		num = "0"
	}
	return fmt.Sprintf("%s_p%d", num, n)
}

// Depends pins the nginx a module built for version v loads into: the
// distro's own nginx ABI package when the cell builds the distro's
// packaged nginx and its nginx provides one (Debian's nginx-abi-V-N),
// else nginx of exactly that upstream version, any packaging revision.
func Depends(format string, d distro.Distro, v string) ([]string, error) {
	pv, err := nginxver.Parse(v)
	if err != nil {
		return nil, err
	}
	seg := pv.Segments()
	next := fmt.Sprintf("%d.%d.%d", seg[0], seg[1], seg[2]+1)
	switch format {
	case "deb":
		if d.ABI != "" && d.Packaged == v {
			return []string{d.ABI}, nil
		}
		return []string{"nginx (>= " + v + ")", "nginx (<< " + next + "~)"}, nil
	case "rpm":
		// Fedora, RHEL and nginx.org all package nginx with epoch 1.
		return []string{"nginx >= 1:" + v, "nginx < 1:" + next}, nil
	case "apk":
		return []string{"nginx~" + v}, nil
	}
	return nil, fmt.Errorf("no package format %q", format)
}

// writeScripts writes the maintainer scripts into dir: enable the module
// (Debian: the modules-enabled link), run nginx -t, and disable it again
// when nginx -t fails because of it; on removal (Debian), refuse to remove
// a module the configuration still needs.
func writeScripts(dir, format, module string, lay layout) (nfpm.Scripts, error) {
	var sc nfpm.Scripts
	write := func(name, body string) (string, error) {
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, []byte("#!/bin/sh\n# "+module+", by nginx-modbuild\n"+body), 0o755)
	}
	test := `nginx_ok() { ! command -v nginx >/dev/null 2>&1 || nginx -t -q >/dev/null 2>&1; }
`
	var err error
	switch format {
	case "deb":
		// A maintainer script never fails the transaction (dpkg would stop
		// half way through an upgrade): what nginx -t says is reported,
		// and the module stays disabled until the configuration passes.
		if sc.PostInstall, err = write("postinst", test+fmt.Sprintf(`set -e
if [ "$1" = configure ]; then
    before=ok; nginx_ok || before=failing
    ln -sf %[1]s %[2]s
    if ! nginx_ok; then
        rm -f %[2]s
        if [ "$before" = ok ]; then
            echo "%[3]s: nginx -t fails with the module enabled; it stays disabled (ln -s %[1]s %[2]s once it passes):" >&2
            ln -sf %[1]s %[2]s; nginx -t >&2 || true; rm -f %[2]s
        else
            echo "%[3]s: nginx -t already failed before; the module stays disabled until it passes (ln -s %[1]s %[2]s)" >&2
        fi
    else
        echo "%[3]s: enabled (%[2]s); reload nginx to load it" >&2
    fi
fi
exit 0
`, lay.snippet, lay.enabled, module)); err != nil {
			return sc, err
		}
		// Removed in favour of the distro's package of the module: that
		// one takes its place. Removed for good while the configuration
		// still uses it: said, with what to do, and never refused.
		if sc.PreRemove, err = write("prerm", test+fmt.Sprintf(`if [ "$1" = remove ] && [ "$2" != in-favour ] && [ -L %[1]s ]; then
    before=ok; nginx_ok || before=failing
    rm -f %[1]s
    if [ "$before" = ok ] && ! nginx_ok; then
        echo "%[2]s: removed, but the configuration still uses it: nginx -t now fails, so do not reload nginx until" >&2
        echo "  the directives are gone, or a build of %[2]s for this nginx is installed" >&2
        echo "  (the repository's package for it, or nginx-modbuild build --like \"\$(command -v nginx)\" then install --from dist)" >&2
    fi
fi
exit 0
`, lay.enabled, module)); err != nil {
			return sc, err
		}
		sc.PostRemove, err = write("postrm", fmt.Sprintf(`set -e
if [ "$1" = purge ] || [ "$1" = remove ]; then rm -f %s; fi
`, lay.enabled))
	default:
		// rpm and apk install the snippet where nginx reads it: disable it
		// (rename) when nginx -t fails because of it.
		sc.PostInstall, err = write("postinstall", test+fmt.Sprintf(`if ! nginx_ok; then
    mv -f %[1]s %[1]s.disabled
    if nginx_ok; then
        echo "%[2]s: nginx -t fails with the module; it is disabled (%[1]s.disabled):" >&2
        mv -f %[1]s.disabled %[1]s; nginx -t >&2; mv -f %[1]s %[1]s.disabled
    else
        mv -f %[1]s.disabled %[1]s
    fi
fi
exit 0
`, lay.snippet, module))
	}
	return sc, err
}
