// Package preflight predicts, from the files alone, what nginx will say about
// each load_module of a configuration once it runs a target nginx: the same
// checks in the same order as ngx_load_module and ngx_add_module (open the
// file, find ngx_modules, compare version, then signature, then refuse a
// module already loaded), with nginx's own messages.
package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/ldso"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/nginxconf"
)

// Target is the nginx the configuration is checked against. Only Version is
// required; the more a binary tells, the more is checked.
type Target struct {
	// Nginx is the open-source version ("1.26.3"); Version its number.
	Nginx   string `json:"nginx"`
	Version uint64 `json:"version"`
	// Plus is the NGINX Plus release, when the target is one.
	Plus string `json:"plus,omitempty"`
	// Source says how the target was given (a path, "--target R34").
	Source string `json:"source"`
	// Signature is the binary's exact module signature, when known.
	Signature string `json:"signature,omitempty"`
	// Compat is whether the binary is built --with-compat; CompatKnown
	// says whether that was read or assumed (nginx.org, distributions and
	// NGINX Plus all build with it).
	Compat      bool `json:"compat"`
	CompatKnown bool `json:"compat_known"`
	// Machine and Bits are the binary's architecture, when known.
	Machine string `json:"machine,omitempty"`
	Bits    int    `json:"bits,omitempty"`
	// Builtins are the modules compiled into the binary; Exports the
	// symbols it provides to modules (both only from a binary).
	Builtins []string `json:"-"`
	Exports  []string `json:"-"`
	// Prefix is where relative load_module paths start (nginx's --prefix);
	// "" when unknown.
	Prefix string `json:"prefix"`
	// Libs, when set (a binary on this host), finds the libraries the
	// binary and each module need as the dynamic loader does: then every
	// symbol a module needs is judged (a PCRE1 module against an nginx
	// built with PCRE2: undefined symbol: pcre_fullinfo), not only
	// nginx's and NDK's.
	Libs *ldso.Loader `json:"-"`
	// Path is the binary's file (for Libs), when it is one.
	Path string `json:"-"`
}

// FromBinary describes an nginx executable read by modinfo.
func FromBinary(path string, f *modinfo.File) (Target, error) {
	if f.Kind != modinfo.KindExecutable || f.Version == 0 {
		return Target{}, fmt.Errorf("%s is not an nginx executable", path)
	}
	t := Target{
		Nginx: f.Nginx(), Version: f.Version, Source: path, Signature: f.Signature,
		Machine: f.Machine, Bits: f.Bits, Exports: f.Exports, Prefix: PrefixOf(f.Configure), Path: path,
	}
	for _, m := range f.Modules {
		t.Builtins = append(t.Builtins, m.Name)
	}
	if sig, err := modinfo.ParseSignature(f.Signature); err == nil {
		t.Compat, t.CompatKnown = sig.Compat(), true
	} else {
		t.Compat, t.CompatKnown = hasCompat(f.Configure), f.Configure != ""
	}
	return t, nil
}

// FromVersion describes a target known only by its version (and maybe the
// configure arguments `nginx -V` printed).
func FromVersion(nginx, source, configure string) (Target, error) {
	n, err := modinfo.VersionNumber(nginx)
	if err != nil {
		return Target{}, err
	}
	t := Target{Nginx: nginx, Version: n, Source: source, Compat: true, Prefix: PrefixOf(configure)}
	if configure != "" {
		t.Compat, t.CompatKnown = hasCompat(configure), true
	}
	return t, nil
}

var prefixRE = regexp.MustCompile(`(?:^|\s)--prefix=(?:'([^']*)'|"([^"]*)"|(\S+))`)

// DefaultPrefix is nginx's prefix when configure was given none.
const DefaultPrefix = "/usr/local/nginx"

// PrefixOf finds --prefix in configure arguments: nginx's default when they
// have none, "" when they are unknown.
func PrefixOf(configure string) string {
	if m := prefixRE.FindStringSubmatch(configure); m != nil {
		return m[1] + m[2] + m[3]
	}
	if configure == "" {
		return ""
	}
	return DefaultPrefix
}

func hasCompat(configure string) bool {
	return slices.Contains(strings.Fields(configure), "--with-compat")
}

// Status is the verdict for one load_module.
type Status string

// Verdicts, in the order nginx checks.
const (
	OK              Status = "ok"
	Missing         Status = "missing"
	NotModule       Status = "not-module"
	WrongArch       Status = "wrong-arch"
	Unresolved      Status = "unresolved-symbols"
	VersionMismatch Status = "version-mismatch"
	Incompatible    Status = "not-binary-compatible"
	AlreadyLoaded   Status = "already-loaded"
)

// Result is the verdict for one load_module directive.
type Result struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Path is the argument as written; Resolved the file nginx opens.
	Path     string           `json:"path"`
	Resolved string           `json:"resolved"`
	Modules  []modinfo.Module `json:"modules,omitempty"`
	Status   Status           `json:"status"`
	// Nginx is what nginx -t prints for this directive (without the
	// "nginx: [emerg] " prefix); empty when it loads.
	Nginx string `json:"nginx,omitempty"`
	// Why explains the verdict in more detail than nginx does.
	Why         string               `json:"why,omitempty"`
	Differences []modinfo.Difference `json:"differences,omitempty"`
	// Build is the version-named file to build or download instead.
	Build string `json:"build,omitempty"`
}

// Report is the outcome of a check.
type Report struct {
	Target  Target   `json:"target"`
	Results []Result `json:"results"`
}

// OK reports whether every module loads.
func (r Report) OK() bool {
	for _, res := range r.Results {
		if res.Status != OK {
			return false
		}
	}
	return true
}

// Opener reads a file's module records (modinfo.Open in production).
type Opener func(path string) (*modinfo.File, error)

// Check judges every load_module against the target, in order.
func Check(t Target, loads []nginxconf.LoadModule, open Opener) Report {
	rep := Report{Target: t}
	loaded := map[string]bool{}
	for _, b := range t.Builtins {
		loaded[b] = true
	}
	provided := map[string]bool{}
	for _, e := range t.Exports {
		provided[e] = true
	}
	if t.Libs != nil {
		if bin, err := ldso.Read(t.Path); err == nil {
			libs, _ := t.Libs.Provided(bin)
			for sym := range libs {
				provided[sym] = true
			}
		} else {
			t.Libs = nil // judged as without it: nginx's namespaces only
		}
	}
	for _, l := range loads {
		res := check(t, l, open, loaded, provided)
		rep.Results = append(rep.Results, res)
	}
	return rep
}

func check(t Target, l nginxconf.LoadModule, open Opener, loaded, provided map[string]bool) Result {
	res, f := opened(t, l, open)
	if f == nil {
		return res
	}
	in := fmt.Sprintf(" in %s:%d", l.File, l.Line)
	dlopenFailed := func(why string) {
		res.Nginx = fmt.Sprintf(`dlopen() "%s" failed (%s: %s)%s`, res.Resolved, res.Resolved, why, in)
	}
	res.Modules = f.Modules
	res.Build = manifest.FileName(baseName(res.Resolved), t.Nginx)

	if t.Machine != "" && (f.Machine != t.Machine || f.Bits != t.Bits) {
		res.Status = WrongArch
		res.Why = fmt.Sprintf("built for %s (%d-bit); nginx is %s (%d-bit)", f.Machine, f.Bits, t.Machine, t.Bits)
		if f.Bits != t.Bits {
			dlopenFailed(fmt.Sprintf("wrong ELF class: ELFCLASS%d", f.Bits))
		} else {
			// glibc skips a file for another machine as if it were absent.
			dlopenFailed("cannot open shared object file: No such file or directory")
		}
		return res
	}
	// dlopen(RTLD_NOW) resolves every symbol before nginx looks inside:
	// nginx's own and other modules' (NDK's) symbols must be there already.
	// Only nginx's and NDK's namespaces are judged; system libraries are
	// not inspected.
	if len(provided) > 0 {
		if missing := unresolved(t, res.Resolved, f, provided); len(missing) > 0 {
			res.Status = Unresolved
			dlopenFailed("undefined symbol: " + missing[0])
			res.Why = "undefined symbols: " + strings.Join(missing, ", ") + unresolvedHint(missing)
			return res
		}
	}
	for _, m := range f.Modules {
		if m.Version != t.Version {
			res.Status = VersionMismatch
			res.Nginx = fmt.Sprintf(`module "%s" version %d instead of %d%s`, res.Resolved, m.Version, t.Version, in)
			res.Why = fmt.Sprintf("%s was built for nginx %s; the target is %s", m.Name, m.Nginx(), t.describe())
			return res
		}
		if diffs, why := t.compatible(m); why != "" {
			res.Status = Incompatible
			res.Nginx = fmt.Sprintf(`module "%s" is not binary compatible%s`, res.Resolved, in)
			res.Why = why
			res.Differences = diffs
			return res
		}
		if loaded[m.Name] {
			res.Status = AlreadyLoaded
			res.Nginx = fmt.Sprintf(`module "%s" is already loaded%s`, m.Name, in)
			res.Why = "the module is built into nginx or loaded by an earlier load_module"
			res.Build = ""
			return res
		}
		loaded[m.Name] = true
	}
	res.Status = OK
	res.Build = ""
	return res
}

// opened opens the file a load_module names as dlopen would, and reads
// it; a file nginx would not get as far as a module from is its result,
// with a nil file.
func opened(t Target, l nginxconf.LoadModule, open Opener) (Result, *modinfo.File) {
	res := Result{File: l.File, Line: l.Line, Path: l.Path, Resolved: fullName(t.Prefix, l.Path)}
	in := fmt.Sprintf(" in %s:%d", l.File, l.Line)
	f, err := open(res.Resolved)
	dlopenFailed := func(why string) {
		res.Nginx = fmt.Sprintf(`dlopen() "%s" failed (%s: %s)%s`, res.Resolved, res.Resolved, why, in)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Status = Missing
		dlopenFailed("cannot open shared object file: No such file or directory")
		res.Why = "the file does not exist"
		return res, nil
	case errors.Is(err, modinfo.ErrNotModule):
		res.Status = NotModule
		res.Nginx = fmt.Sprintf(`dlsym() "%s", "ngx_modules" failed (%s: undefined symbol: ngx_modules)%s`, l.Path, res.Resolved, in)
		res.Why = "a shared object, but not an nginx module"
		return res, nil
	case err != nil:
		res.Status = NotModule
		res.Why = err.Error()
		// The dynamic linker first reads an ELF header's worth of bytes.
		if st, serr := os.Stat(res.Resolved); serr == nil && st.Mode().IsRegular() && st.Size() < elfHeaderSize(t.Bits) {
			dlopenFailed("file too short")
		} else if errors.Is(err, modinfo.ErrNotELF) {
			dlopenFailed("invalid ELF header")
		}
		return res, nil
	case f.Kind != modinfo.KindModule:
		res.Status = NotModule
		res.Why = "an executable, not a module"
		if f.PIE {
			dlopenFailed("cannot dynamically load position-independent executable")
		} else {
			dlopenFailed("cannot dynamically load executable")
		}
		return res, nil
	}
	return res, f
}

// unresolved are the symbols the module at path uses that neither the
// target nor the modules before it (provided) nor its own libraries
// define; when there are none, its symbols join provided.
func unresolved(t Target, path string, f *modinfo.File, provided map[string]bool) []string {
	// With the libraries known, every symbol is judged: the module's
	// own libraries count for it (and, loaded into the global scope,
	// for the modules after it).
	own := map[string]bool{}
	if t.Libs != nil {
		if so, err := ldso.Read(path); err == nil {
			own, _ = t.Libs.Provided(so)
		}
	}
	var missing []string
	for _, s := range f.Imports {
		judged := t.Libs != nil || strings.HasPrefix(s, "ngx_") || strings.HasPrefix(s, "ndk_")
		if judged && !provided[s] && !own[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return missing
	}
	for _, e := range f.Exports {
		provided[e] = true
	}
	for sym := range own {
		provided[sym] = true
	}
	return nil
}

// unresolvedHint says what fixes the undefined symbols of a module.
func unresolvedHint(missing []string) string {
	for _, s := range missing {
		if strings.HasPrefix(s, "pcre_") {
			return " (the module calls the PCRE1 API and this nginx is built with PCRE2: use a module version that supports PCRE2," +
				" or one built to link libpcre itself, as Debian builds lua: libs: [-lpcre] in nginx-modbuild's module entry)"
		}
	}
	return " (load the module that defines them first, or build against a matching nginx configuration)"
}

// compatible compares a module's signature with the target's; why is empty
// when they match.
func (t Target) compatible(m modinfo.Module) ([]modinfo.Difference, string) {
	if t.Signature != "" {
		if m.Signature == t.Signature {
			return nil, ""
		}
		d := modinfo.Diff(m.Signature, t.Signature, t.Version)
		return d, fmt.Sprintf("signature %s, nginx has %s", m.Signature, t.Signature)
	}
	sig, err := modinfo.ParseSignature(m.Signature)
	if err != nil {
		return nil, err.Error()
	}
	if sig.Compat() == t.Compat {
		return nil, ""
	}
	d := []modinfo.Difference{{Bit: 34, Macro: "NGX_COMPAT", Feature: "--with-compat", Module: onOff(sig.Compat()), Binary: onOff(t.Compat)}}
	if t.CompatKnown {
		return d, "the module and nginx disagree on --with-compat"
	}
	return d, "the module is built without --with-compat; nginx.org, distribution and NGINX Plus binaries are built with it (pass --nginx or --nginx-v \"$(nginx -V 2>&1)\" to check a custom build exactly)"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (t Target) describe() string {
	if t.Plus != "" {
		return fmt.Sprintf("%s (NGINX Plus %s)", t.Nginx, t.Plus)
	}
	return t.Nginx
}

// elfHeaderSize is the size of the ELF header the dynamic linker reads first.
func elfHeaderSize(bits int) int64 {
	if bits == 32 {
		return 52
	}
	return 64
}

// fullName resolves a load_module path like ngx_conf_full_name: relative
// paths start at the prefix.
func fullName(prefix, p string) string {
	if filepath.IsAbs(p) || prefix == "" {
		return p
	}
	return strings.TrimSuffix(prefix, "/") + "/" + p
}

var versionSuffix = regexp.MustCompile(`_[0-9]+\.[0-9]+\.[0-9]+$`)

// baseName is the module file's name without directory, .so and a version
// suffix: ngx_http_foo_module_1.22.1.so -> ngx_http_foo_module.
func baseName(p string) string {
	b := strings.TrimSuffix(filepath.Base(p), ".so")
	return versionSuffix.ReplaceAllString(b, "")
}
