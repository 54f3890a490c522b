package modconf

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Hints is what can be read from a module's config files before configure
// runs them: hints for ordering and for installing libraries, never a
// verdict on what gets built (only configure knows that).
type Hints struct {
	Dir string
	// Files are the config files read: the config and the files it
	// sources from the module's directory.
	Files []string
	// Sets and Uses are the module's own shell variables it assigns and
	// reads (nginx's own variables are left out).
	Sets, Uses []string
	// Libs are the -l names its probes and module declarations mention;
	// Headers the headers its auto/feature probes include.
	Libs, Headers []string
	// Reads are configure switches the config tests (STREAM, USE_OPENSSL).
	Reads []string
	// Enables are configure switches it turns on (USE_OPENSSL=YES, or
	// OPENSSL in ngx_module_libs).
	Enables []string
	// Switches are nginx's library switches it asks configure to link
	// (ngx_module_libs="LIBXSLT", USE_GEOIP=YES): nginx's own probe for
	// each then runs, and needs the library's headers.
	Switches []string
}

var (
	sourced   = regexp.MustCompile(`(?m)^\s*\.\s+"?\$\{?ngx_addon_dir\}?/([^"\s;]+)"?`)
	libFlag   = regexp.MustCompile(`(?:^|[\s"'=])-l([A-Za-z0-9_.+-]+)`)
	include   = regexp.MustCompile(`#include\s*<([^>]+)>`)
	switchRef = regexp.MustCompile(`\$\{?(USE_OPENSSL|USE_PCRE|USE_ZLIB|USE_LIBXSLT|USE_LIBGD|USE_GEOIP|USE_PERL|HTTP_SSL|MAIL_SSL|STREAM_SSL|HTTP|STREAM|MAIL)\}?\b`)
	enables   = regexp.MustCompile(`\b(USE_OPENSSL|USE_PCRE|USE_ZLIB)=YES\b`)
	libsWord  = regexp.MustCompile(`ngx_module_libs=["']?[^\n]*\b(OPENSSL|PCRE|ZLIB)\b`)
	libsLine  = regexp.MustCompile(`ngx_module_libs=["']?([^\n]*)`)
	switchLib = regexp.MustCompile(`\b(LIBXSLT|LIBGD|GEOIP|PERL|LIBATOMIC|PCRE|OPENSSL|ZLIB)\b`)
	switchOn  = regexp.MustCompile(`\bUSE_(LIBXSLT|LIBGD|GEOIP|PERL|LIBATOMIC|PCRE|OPENSSL|ZLIB)=(?:YES|DYNAMIC)\b`)
)

// ReadHints reads dir/config and the files it sources with
// ". $ngx_addon_dir/...". Only a missing config file is an error.
func ReadHints(dir string) (*Hints, error) {
	h := &Hints{Dir: dir}
	sets, uses := map[string]bool{}, map[string]bool{}
	libs, headers, reads, en, sw := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	queue := []string{filepath.Join(dir, "config")}
	seen := map[string]bool{}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		if seen[path] || len(seen) > 50 {
			continue
		}
		seen[path] = true
		b, err := os.ReadFile(path)
		if err != nil {
			if len(h.Files) == 0 {
				return nil, fmt.Errorf("module %s: no nginx module config file: %w", dir, err)
			}
			continue
		}
		h.Files = append(h.Files, path)
		text := string(b)
		for _, m := range sourced.FindAllStringSubmatch(text, -1) {
			queue = append(queue, filepath.Join(dir, m[1]))
		}
		for _, line := range logicalLines(text) {
			for _, m := range varRef.FindAllStringSubmatch(line, -1) {
				uses[m[1]] = true
			}
			if m := assign.FindStringSubmatch(line); m != nil {
				sets[m[1]] = true
			}
			for _, m := range libFlag.FindAllStringSubmatch(line, -1) {
				libs[m[1]] = true
			}
			for _, m := range include.FindAllStringSubmatch(line, -1) {
				headers[m[1]] = true
			}
			for _, m := range switchRef.FindAllStringSubmatch(line, -1) {
				reads[m[1]] = true
			}
			for _, m := range enables.FindAllStringSubmatch(line, -1) {
				en[m[1]] = true
			}
			if m := libsWord.FindStringSubmatch(line); m != nil {
				en["USE_"+m[1]] = true
			}
			if m := libsLine.FindStringSubmatch(line); m != nil {
				for _, w := range switchLib.FindAllString(m[1], -1) {
					sw[w] = true
				}
			}
			for _, m := range switchOn.FindAllStringSubmatch(line, -1) {
				sw[m[1]] = true
			}
		}
	}
	h.Sets, h.Uses = own(sets), own(uses)
	h.Libs, h.Headers, h.Reads, h.Enables, h.Switches = slices.Sorted(maps.Keys(libs)), slices.Sorted(maps.Keys(headers)), slices.Sorted(maps.Keys(reads)), slices.Sorted(maps.Keys(en)), slices.Sorted(maps.Keys(sw))
	return h, nil
}

// HintDeps lists, for each module, the other modules its config needs to
// have run first: one that sets a variable it reads but does not set
// itself (set-misc reads $NDK_SRCS, which ngx_devel_kit sets), or one
// that turns on a configure switch it tests (USE_OPENSSL).
func HintDeps(hs []*Hints) [][]int {
	deps := make([][]int, len(hs))
	add := func(i, j int) {
		for _, d := range deps[i] {
			if d == j {
				return
			}
		}
		deps[i] = append(deps[i], j)
	}
	for i, h := range hs {
		for j, o := range hs {
			if i == j {
				continue
			}
			for _, v := range h.Uses {
				if slices.Contains(o.Sets, v) && !slices.Contains(h.Sets, v) {
					add(i, j)
				}
			}
			for _, v := range h.Reads {
				if slices.Contains(o.Enables, v) && !slices.Contains(h.Enables, v) {
					add(i, j)
				}
			}
		}
	}
	return deps
}

// Sort returns module indices in configure order: each after the modules
// it needs (deps), otherwise in the given order. Members of a cycle keep
// the given order.
func Sort(n int, deps [][]int) []int {
	var out []int
	state := make([]int, n)
	var visit func(int)
	visit = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		for _, j := range deps[i] {
			visit(j)
		}
		state[i] = 2
		out = append(out, i)
	}
	for i := 0; i < n; i++ {
		visit(i)
	}
	return out
}

var (
	// addonName and moduleName are a config's ngx_addon_name and
	// ngx_module_name assignments of a literal name or of $ngx_addon_name.
	addonName  = regexp.MustCompile(`(?m)^\s*ngx_addon_name=["']?([A-Za-z0-9_]+)["']?\s*(?:#.*)?$`)
	moduleName = regexp.MustCompile(`(?m)^\s*ngx_module_name=["']?([A-Za-z0-9_]+|\$ngx_addon_name|\$\{ngx_addon_name\})["']?\s*(?:#.*)?$`)
)

// Name is the name a module's config gives what it builds, read from
// dir/config and the files it sources: its first ngx_module_name (the
// .so it declares first: ndk's ndk_http_module, njs's
// ngx_http_js_module), else its ngx_addon_name (what nginx's configure
// prints as "adding module"); "" when it assigns neither a literal name.
func Name(dir string) string {
	h, err := ReadHints(dir)
	if err != nil {
		return ""
	}
	var addon string
	for _, f := range h.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := addonName.FindSubmatch(data); m != nil && addon == "" {
			addon = string(m[1])
		}
		if m := moduleName.FindSubmatch(data); m != nil {
			if n := string(m[1]); !strings.HasPrefix(n, "$") {
				return n
			}
			if addon != "" {
				return addon
			}
		}
	}
	return addon
}
