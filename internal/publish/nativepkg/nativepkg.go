// Package nativepkg turns a built module .so into the native package of
// its build cell's distro: a .deb for apt distros, an .rpm for dnf and
// yum, an .apk for Alpine, with nfpm. The package pins the nginx build it
// loads into, puts the .so and its load_module snippet where that
// family's nginx reads them, and its maintainer scripts run nginx -t and
// never leave the host with a configuration that fails.
package nativepkg

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/apk" // registers the apk packager
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/signkey"
)

// Spec describes one module package.
type Spec struct {
	// Module is the nginx module name (ngx_http_echo_module); SO the
	// built file.
	Module string
	SO     []byte
	// Nginx is the version it is built for; Distro the cell's distro;
	// Arch amd64 or arm64.
	Nginx  string
	Distro distro.Distro
	Arch   string
	// Version is the module's own version (0.63, or 0.0.0+git1a2b3c4).
	Version string
	// Name is the package name template: {short} is the module's short
	// name, {module} its name with '_' as '-'; "" for nginx-module-{short}.
	// Requires' packages are named by the same template.
	Name string
	// Requires are the module names that must load first (NDK): the
	// package depends on theirs.
	Requires []string
	// First is set for a module others require: its Debian snippet is
	// 10-, read before theirs (as Debian's libnginx-mod-http-ndk's).
	First bool
	// NginxModules are nginx's own dynamic modules that must load first
	// (ngx_stream_module): the package depends on the distro's package of
	// each (libnginx-mod-stream), and its Debian snippet is 70-, read
	// after that package's 50-mod-stream.conf.
	NginxModules []string
	// Runtime are the distro packages owning the libraries the .so
	// links (manifest.Entry.Runtime): the package depends on them.
	Runtime                                    []string
	Maintainer, Homepage, License, Description string
	// ABI, when set, is the virtual package the target nginx provides to
	// modules built from its distro's source (Debian's nginx-abi-V-N from
	// that release's abisubstvars): a .deb depends on it instead of the
	// distro table's ABI or the version pins.
	ABI string
	// MTime stamps the files (reproducible packages).
	MTime time.Time
	// Signer, when set, signs the package: an rpm's header and payload
	// (as rpm --addsign does: dnf's gpgcheck=1), a .deb with debsigs'
	// origin signature (apt itself checks the repository's), and, when it
	// is an RSA key, an apk (as abuild-sign does).
	Signer *openpgp.Entity
}

// Package is a built package.
type Package struct {
	// Format is deb, rpm or apk; File the conventional file name.
	Format, File, Name, Version string
	Depends                     []string
	Data                        []byte
}

// Format is the package format of a distro family.
func Format(f distro.Family) string {
	switch f {
	case distro.Apt:
		return "deb"
	case distro.Dnf, distro.Yum:
		return "rpm"
	case distro.Apk:
		return "apk"
	}
	return ""
}

// ShortName is ngx_http_echo_module's "echo" with underscores as hyphens
// (nginx.org names its module packages nginx-module-<short>).
func ShortName(module string) string {
	s := strings.TrimSuffix(module, "_module")
	for _, p := range []string{"ngx_http_", "ngx_stream_", "ngx_mail_", "ngx_"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			s = rest
			break
		}
	}
	return strings.ReplaceAll(s, "_", "-")
}

// PackageName is the default package name of a module.
func PackageName(module string) string { return NameOf("", module) }

// NameOf is a module's package name by a template ("" for
// nginx-module-{short}).
func NameOf(template, module string) string {
	if template == "" {
		template = "nginx-module-{short}"
	}
	return strings.NewReplacer("{short}", ShortName(module), "{module}", strings.ReplaceAll(module, "_", "-")).Replace(template)
}

// layout is where a family's nginx looks for modules and snippets, and how
// a snippet is enabled.
type layout struct {
	modules string // the .so directory
	snippet string // where the load_module file goes
	enabled string // Debian: the modules-enabled link to make
}

func layoutOf(f distro.Family, module, prefix string) layout {
	name := manifest.DistroName(module)
	switch f {
	case distro.Apt:
		// Debian's own places and names: libnginx-mod-http-echo ships
		// modules-available/mod-http-echo.conf, enabled as
		// modules-enabled/50-mod-http-echo.conf.
		return layout{modules: "/usr/lib/nginx/modules", snippet: "/usr/share/nginx/modules-available/mod-" + name + ".conf",
			enabled: "/etc/nginx/modules-enabled/" + manifest.SnippetName(module, prefix)}
	case distro.Dnf, distro.Yum:
		return layout{modules: "/usr/lib64/nginx/modules", snippet: "/usr/share/nginx/modules/mod-" + name + ".conf"}
	default: // apk
		return layout{modules: "/usr/lib/nginx/modules", snippet: "/etc/nginx/modules/" + ShortName(module) + ".conf"}
	}
}

// relations are a package's Conflicts, Replaces and Provides.
type relations struct{ conflicts, replaces, provides []string }

// relationsOf is how a package of module stands to the distribution's
// own (DistroPackage): a .deb conflicts with it, replaces it and provides
// it, so apt swaps one for the other either way (proven in bare Debian 12
// and 13 with Debian's packages); an rpm conflicts with it, so dnf says
// so before a file conflict stops the transaction. apk: none, as no
// Alpine package was at hand to prove what apk does with them.
func relationsOf(format, module, name string) relations {
	own := DistroPackage(format, module)
	switch {
	case own == name:
		return relations{}
	case format == "deb":
		return relations{conflicts: []string{own}, replaces: []string{own}, provides: []string{own}}
	case format == "rpm":
		return relations{conflicts: []string{own}}
	}
	return relations{}
}

// DistroPackage is the distribution's own package of the module, by
// format: Debian's libnginx-mod-http-echo, Fedora's and Alpine's
// nginx-mod-http-echo. A package of it replaces that one and conflicts
// with it (both ship the same .so path), so apt, dnf and apk swap one for
// the other instead of stopping at a file both own.
func DistroPackage(format, module string) string {
	return manifest.DistroPackage(format == "deb", module)
}

// Build makes the package of s for its distro's family.
func Build(s Spec) (*Package, error) {
	format := Format(s.Distro.Family)
	if format == "" {
		return nil, fmt.Errorf("%s: no package format for family %q", s.Distro.Name, s.Distro.Family)
	}
	if _, err := modinfo.Read(bytes.NewReader(s.SO)); err != nil {
		return nil, fmt.Errorf("package %s: %w", s.Module, err)
	}
	name := NameOf(s.Name, s.Module)
	lay := layoutOf(s.Distro.Family, s.Module, manifest.SnippetPrefix(s.First, len(s.NginxModules) > 0))
	version := s.Version
	if version == "" {
		version = "0.0.0"
	}
	pkgVersion := Version(format, version, s.Nginx)
	d := s.Distro
	if s.ABI != "" {
		d.ABI, d.Packaged = s.ABI, s.Nginx // the cell built from the source of the nginx providing it
	}
	depends, err := Depends(format, d, s.Nginx)
	if err != nil {
		return nil, err
	}
	for _, r := range s.Requires {
		depends = append(depends, NameOf(s.Name, r))
	}
	for _, m := range s.NginxModules {
		depends = append(depends, DistroPackage(format, m))
	}
	for _, r := range s.Runtime {
		if !slices.Contains(depends, r) {
			depends = append(depends, r)
		}
	}
	rel := relationsOf(format, s.Module, name)

	tmp, err := os.MkdirTemp("", "nginx-modbuild-pkg-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	mtime := s.MTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0).UTC()
	}
	so, conf, soDest := filepath.Join(tmp, s.Module+".so"), filepath.Join(tmp, "snippet.conf"), lay.modules+"/"+s.Module+".so"
	scripts, err := stage(tmp, s, format, lay, mtime)
	if err != nil {
		return nil, err
	}
	info := &nfpm.Info{
		Name: name, Arch: s.Arch, Platform: "linux", Version: pkgVersion, VersionSchema: "none", Release: "1",
		Maintainer: nonEmpty(s.Maintainer, "nginx-modbuild <nobody@localhost>"), Homepage: s.Homepage,
		License: s.License, Section: "httpd", Priority: "optional", MTime: mtime,
		Description: nonEmpty(s.Description, fmt.Sprintf("%s for nginx %s, dynamic module built by nginx-modbuild", s.Module, s.Nginx)),
		Overridables: nfpm.Overridables{
			Depends: depends,
			// The distro's package of the same module ships the same .so.
			Conflicts: rel.conflicts, Replaces: rel.replaces, Provides: rel.provides,
			Contents: files.Contents{
				{Source: so, Destination: soDest, FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: mtime}},
				{Source: conf, Destination: lay.snippet, FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: mtime}},
			},
			Scripts: *scripts,
		},
	}
	signWith(info, format, s.Signer, mtime)
	info = nfpm.WithDefaults(info)
	packager, err := nfpm.Get(format)
	if err != nil {
		return nil, err
	}
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return nil, fmt.Errorf("package %s: %w", s.Module, err)
	}
	var buf bytes.Buffer
	if err := packager.Package(info, &buf); err != nil {
		return nil, fmt.Errorf("package %s as %s: %w", s.Module, format, err)
	}
	return &Package{Format: format, File: packager.ConventionalFileName(info), Name: name, Version: pkgVersion, Depends: depends, Data: buf.Bytes()}, nil
}

// stage writes into tmp the files the package holds: the .so, its
// load_module snippet and the maintainer scripts, all stamped MTime.
func stage(tmp string, s Spec, format string, lay layout, mtime time.Time) (*nfpm.Scripts, error) {
	so, conf, soDest := filepath.Join(tmp, s.Module+".so"), filepath.Join(tmp, "snippet.conf"), lay.modules+"/"+s.Module+".so"
	if err := os.WriteFile(so, s.SO, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(conf, []byte("load_module "+soDest+";\n"), 0o644); err != nil {
		return nil, err
	}
	scripts, err := writeScripts(tmp, format, s.Module, lay)
	if err != nil {
		return nil, err
	}
	// apk's control segment stamps the maintainer scripts with their
	// files' times: theirs are MTime too, or no two builds are the same.
	for _, f := range []string{scripts.PostInstall, scripts.PreRemove, scripts.PostRemove, scripts.PreInstall} {
		if f != "" {
			if err := os.Chtimes(f, mtime, mtime); err != nil {
				return nil, err
			}
		}
	}
	return &scripts, nil
}

// signWith signs the package the way its format does (debsigs' origin
// signature, the rpm header, the apk control segment), at MTime: the same
// package signs to the same bytes. A nil signer leaves it unsigned.
func signWith(info *nfpm.Info, format string, signer *openpgp.Entity, mtime time.Time) {
	sigCfg := signkey.At(signer, mtime)
	if format == "deb" && signer != nil {
		// debsigs' origin signature (_gpgorigin): debsig-verify checks it;
		// apt checks the repository's.
		info.Deb.Signature.SignFn = func(data io.Reader) ([]byte, error) {
			var sig bytes.Buffer
			err := openpgp.ArmoredDetachSign(&sig, signer, data, sigCfg)
			return sig.Bytes(), err
		}
	}
	if format == "rpm" {
		// Release is part of the version there: 0.63+nginx1.22.1-1.
		info.RPM.Summary = info.Description
		if signer != nil {
			info.RPM.Signature.SignFn = func(data io.Reader) ([]byte, error) {
				var sig bytes.Buffer
				err := openpgp.DetachSign(&sig, signer, data, sigCfg)
				return sig.Bytes(), err
			}
		}
	}
	if format == "apk" {
		info.Release = "r1"
		if k, err := signkey.RSA(signer); err == nil {
			info.APK.Signature.KeyName = signkey.APKName
			info.APK.Signature.SignFn = func(digest io.Reader) ([]byte, error) {
				d, err := io.ReadAll(digest)
				if err != nil {
					return nil, err
				}
				return signkey.SignAPKDigest(k, d)
			}
		}
	}
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
