package install

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// Want is what to pick a build for.
type Want struct {
	// Module is a module name (ngx_http_echo_module) or its short form
	// (echo).
	Module string
	Nginx  string
	// Distro is the host's distro; UseDistro, when set, is the build the
	// operator chose to use instead (no exact match).
	Distro, UseDistro string
	Arch              string
	// Binary is the SHA-256 of the host's nginx: a build made like
	// exactly it (an image target's, build --like's) is picked before
	// the distro's.
	Binary string
}

// Matches reports whether a manifest module name is what the operator
// named: the full name, or the part between ngx_<kind>_ and _module,
// with '-' for '_' as package names spell it (headers-more-filter).
func Matches(module, name string) bool {
	name = strings.ReplaceAll(name, "-", "_")
	if module == name || name+"_module" == module {
		return true
	}
	short := strings.TrimSuffix(module, "_module")
	for _, p := range []string{"ngx_http_", "ngx_stream_", "ngx_mail_", "ngx_"} {
		if rest, ok := strings.CutPrefix(short, p); ok && rest == name {
			return true
		}
	}
	return false
}

// MatchesPrefix reports whether name is the leading words of the
// module's short name (headers-more for ngx_http_headers_more_filter_module):
// a name Pick takes when it names one module only.
func MatchesPrefix(module, name string) bool {
	name = strings.ReplaceAll(name, "-", "_")
	short := strings.TrimSuffix(module, "_module")
	for _, p := range []string{"ngx_http_", "ngx_stream_", "ngx_mail_", "ngx_"} {
		if rest, ok := strings.CutPrefix(short, p); ok && strings.HasPrefix(rest, name+"_") {
			return true
		}
	}
	return false
}

// Pick finds the one build of w.Module for w.Nginx on the host's distro
// and arch: the one built like the host's very nginx binary when there is
// one (an image target's), else the distro's. Without an exact distro match it refuses and names the builds
// there are, unless UseDistro names one of them. It never guesses.
func Pick(m *manifest.Manifest, w Want) (manifest.Entry, error) {
	var mod []manifest.Entry
	for _, e := range m.Entries {
		if e.Kind == "" && Matches(e.Module, w.Module) { // not the native packages
			mod = append(mod, e)
		}
	}
	if len(mod) == 0 {
		// The leading words of one module's name (headers-more).
		for _, e := range m.Entries {
			if e.Kind == "" && MatchesPrefix(e.Module, w.Module) {
				mod = append(mod, e)
			}
		}
		if slices.ContainsFunc(mod, func(e manifest.Entry) bool { return e.Module != mod[0].Module }) {
			return manifest.Entry{}, fmt.Errorf("%q names several modules of the release (%s): give the one you mean", w.Module, list(mod, func(e manifest.Entry) string { return e.Module }))
		}
	}
	if len(mod) == 0 {
		return manifest.Entry{}, fmt.Errorf("no module %q in the release (it has %s)", w.Module, list(m.Entries, func(e manifest.Entry) string { return e.Module }))
	}
	var ver []manifest.Entry
	for _, e := range mod {
		if e.Nginx == w.Nginx {
			ver = append(ver, e)
		}
	}
	if len(ver) == 0 {
		return manifest.Entry{}, fmt.Errorf("%s: no build for nginx %s in the release (built for %s): rebuild it for %s, or install with --for-nginx for a version there is",
			mod[0].Module, w.Nginx, list(mod, func(e manifest.Entry) string { return e.Nginx }), w.Nginx)
	}
	var arch []manifest.Entry
	for _, e := range ver {
		if e.Arch == w.Arch {
			arch = append(arch, e)
		}
	}
	if len(arch) == 0 {
		return manifest.Entry{}, fmt.Errorf("%s for nginx %s: no %s build (there are %s)", ver[0].Module, w.Nginx, w.Arch, list(ver, func(e manifest.Entry) string { return e.Arch }))
	}
	distro := w.Distro
	if w.UseDistro != "" {
		distro = w.UseDistro
	}
	for _, e := range arch {
		if w.Binary != "" && e.Target == w.Binary && w.UseDistro == "" {
			return e, nil // built like this very binary
		}
	}
	for _, e := range arch {
		if e.Distro == distro {
			return e, nil
		}
	}
	there := list(arch, func(e manifest.Entry) string { return e.Distro })
	if w.UseDistro != "" {
		return manifest.Entry{}, fmt.Errorf("%s for nginx %s %s: no build for --distro %s (there are builds for %s)", arch[0].Module, w.Nginx, w.Arch, w.UseDistro, there)
	}
	host := w.Distro
	if host == "" {
		host = "this host (unknown distro)"
	}
	return manifest.Entry{}, fmt.Errorf("%s for nginx %s %s: no build for %s; there are builds for %s: if one of those matches this system's C library and OpenSSL, pass --distro NAME to use it",
		arch[0].Module, w.Nginx, w.Arch, host, there)
}

func list(es []manifest.Entry, key func(manifest.Entry) string) string {
	seen := map[string]bool{}
	var out []string
	for _, e := range es {
		if k := key(e); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
