package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/safename"
)

// FileName is the built file's name, the NGINX upgrade guide's
// convention: ngx_http_foo_module_1.26.3.so.
func FileName(module, nginx string) string {
	return module + "_" + nginx + ".so"
}

// AssetName is the release asset's name: the file name qualified by the
// distribution and architecture it was built on.
func AssetName(module, nginx, distro, arch string) string {
	return module + "_" + nginx + "_" + distro + "_" + arch + ".so"
}

// Asset is the release asset name of an entry: AssetName for a module
// .so; for a package, the same name with the package format's extension
// (ngx_http_echo_module_1.22.1_debian-12_amd64.deb).
func (e Entry) Asset() string {
	if e.Kind == "" {
		return AssetName(e.Module, e.Nginx, e.Distro, e.Arch)
	}
	return e.Module + "_" + e.Nginx + "_" + e.Distro + "_" + e.Arch + "." + e.Kind
}

// CellFileName is the name of a build cell's manifest in the output
// directory.
func CellFileName(nginx, distro, arch string) string {
	return "manifest-" + nginx + "-" + distro + "-" + arch + ".json"
}

// Check refuses an entry whose names would make paths or asset names
// outside what the tool writes: its file must be a plain name in the
// manifest's own directory.
func (e Entry) Check() error {
	switch e.Kind {
	case "", "deb", "rpm", "apk":
	default:
		return fmt.Errorf("kind %s: want deb, rpm or apk", safename.Quote(e.Kind))
	}
	if e.Target != "" && !isSHA256(e.Target) {
		return fmt.Errorf("target %s: want the SHA-256 of an nginx binary (64 hex digits)", safename.Quote(e.Target))
	}
	for _, f := range []struct{ what, v string }{{"module", e.Module}, {"nginx version", e.Nginx}, {"distro", e.Distro}, {"arch", e.Arch}, {"file", e.File}} {
		if err := safename.Check(f.what, f.v); err != nil {
			return err
		}
	}
	return nil
}

// CellFiles finds the cell manifests (manifest-*.json) under dir at any
// depth, as build writes them and downloaded artifacts nest them: the one
// discovery release and the Action's summary share. Symlinked directories
// are not followed.
func CellFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Type().IsRegular() && strings.HasPrefix(d.Name(), "manifest-") && strings.HasSuffix(d.Name(), ".json") {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// ReadBuilt reads what is built already from files and directories: a
// release's manifest.json (or a spread release's index.json), a cell
// manifest, or a directory of build output holding cell manifests at any
// depth (and a release manifest at its top). Cell manifests name files
// as build writes them; here each is named as its release asset, so the
// same module built for two distros stays two entries. All are merged.
func ReadBuilt(paths ...string) (*Manifest, error) {
	out := &Manifest{Schema: Schema}
	for _, p := range paths {
		files := []string{p}
		if fi, err := os.Stat(p); err != nil {
			return nil, err
		} else if fi.IsDir() {
			if files, err = CellFiles(p); err != nil {
				return nil, err
			}
			for _, top := range []string{"manifest.json", "index.json"} {
				if _, err := os.Stat(filepath.Join(p, top)); err == nil {
					files = append(files, filepath.Join(p, top))
				}
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("%s: no manifest.json, index.json or cell manifest (manifest-*.json) in it", p)
			}
		}
		for _, f := range files {
			m, err := Read(f)
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(filepath.Base(f), "manifest-") {
				for i := range m.Entries {
					m.Entries[i].File = m.Entries[i].Asset()
				}
			}
			out.Merge(m)
		}
	}
	return out, nil
}

// isSHA256 reports whether s is 64 lowercase hex digits.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// DistroName is the name the distributions give a module in the names of
// its package and its load_module snippet: ngx_http_echo_module's
// "http-echo" (Debian's libnginx-mod-http-echo and mod-http-echo.conf;
// Fedora's and Alpine's nginx-mod-http-echo).
func DistroName(module string) string {
	s := strings.TrimSuffix(strings.TrimPrefix(module, "ngx_"), "_module")
	return strings.ReplaceAll(s, "_", "-")
}

// DistroPackage is the distribution's own package of a module: Debian's
// libnginx-mod-http-echo (deb), Fedora's and Alpine's nginx-mod-http-echo;
// for nginx's own ngx_stream_module, libnginx-mod-stream.
func DistroPackage(deb bool, module string) string {
	if deb {
		return "libnginx-mod-" + DistroName(module)
	}
	return "nginx-mod-" + DistroName(module)
}

// SnippetName is a module's load_module snippet in modules-enabled, as
// Debian names its own (50-mod-http-echo.conf), with SnippetPrefix's
// priority.
func SnippetName(module, prefix string) string {
	return prefix + "-mod-" + DistroName(module) + ".conf"
}

// Required is the set of modules that some entry of entries requires
// loaded first (the NDK for encrypted-session): their snippets get
// SnippetPrefix's first priority.
func Required(entries []Entry) map[string]bool {
	out := map[string]bool{}
	for _, e := range entries {
		for _, r := range e.Requires {
			out[r] = true
		}
	}
	return out
}

// SnippetPrefix is the priority of a module's snippet, as Debian gives
// its own: 10 for a module others need loaded first (NDK), 70 for one
// that needs nginx's own dynamic modules loaded first (a stream module
// after 50-mod-stream.conf, as Debian's stream-geoip2), else 50.
func SnippetPrefix(first, afterNginx bool) string {
	switch {
	case first:
		return "10"
	case afterNginx:
		return "70"
	}
	return "50"
}

// SnippetAvailable is the name of an enabled snippet in modules-available:
// without its priority (mod-http-echo.conf).
func SnippetAvailable(name string) string {
	_, rest, _ := strings.Cut(name, "-")
	return rest
}
