// Package manifest is the record of what was built: one entry per .so
// file, kept as manifest.json beside the files of a release. It is the
// only state nginx-modbuild keeps; planning reads it to skip work done.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// Schema is the manifest format version this binary writes and reads.
const Schema = 1

// Manifest lists built files, and the build cells that made them.
type Manifest struct {
	Schema  int     `json:"schema"`
	Entries []Entry `json:"entries"`
	Cells   []Cell  `json:"cells,omitempty"`
}

// Cell records one build: an nginx version on a distro and architecture.
type Cell struct {
	Nginx  string   `json:"nginx"`
	Plus   []string `json:"plus,omitempty"`
	Distro string   `json:"distro"`
	Arch   string   `json:"arch"`
	// Source is the nginx tarball's checksum and how it was verified.
	SourceSHA256 string   `json:"source_sha256"`
	Verified     string   `json:"verified"`
	Configure    []string `json:"configure"`
	Compiler     string   `json:"compiler"`
	// Seconds is the wall time of each phase.
	Seconds  map[string]float64 `json:"seconds"`
	Failures []Failure          `json:"failures,omitempty"`
	// GlobalFlags are the configs that changed nginx's global flags
	// (CFLAGS, NGX_LD_OPT), and how: each such module is configured
	// apart from the modules it does not need, so its flags reach only
	// its own objects and theirs.
	GlobalFlags []FlagChange `json:"global_flags,omitempty"`
	// Found are the packages the build looked up in the distribution's
	// file index for a file a module's build stopped without (a header,
	// a -l library, a command), and installed before building it again
	// (build --install-deps).
	Found []Found `json:"found,omitempty"`
	// Tests are the modules' own test suites run in the cell (build
	// --test), one per module with a test: in the config.
	Tests []Tests `json:"tests,omitempty"`
	// Incremental says the cell was built in a kept tree (build
	// --incremental, a pull-request check): release refuses it, as only
	// a build from clean is published.
	Incremental bool `json:"incremental,omitempty"`
	// ABI is the virtual package the target nginx provides to modules
	// built from its distro's source (Debian's nginx-abi-1.22.1-7, from
	// that tree's abisubstvars): the cell's .deb packages depend on it.
	ABI string `json:"abi,omitempty"`
}

// Tests is one module's suite in a cell: counts as prove sums them.
type Tests struct {
	// Module is the module's one name (cell.Module.Name), as failures
	// name it; Source its source ID (config.Module.ID), as entries and
	// failures give it (empty in manifests before it was recorded).
	Module string `json:"module"`
	Source string `json:"source,omitempty"`
	// Required says a failed test fails the cell (test.required).
	Required bool `json:"required"`
	// Ran is every test line; Passed excludes skips and TODOs.
	Ran         int        `json:"ran"`
	Passed      int        `json:"passed"`
	Failed      int        `json:"failed"`
	Skipped     int        `json:"skipped"`
	Todo        int        `json:"todo,omitempty"`
	FailedFiles int        `json:"failed_files,omitempty"`
	Files       []TestFile `json:"files,omitempty"`
	// Skips are the config's declared skips, with their reasons.
	Skips   []TestSkip `json:"skips,omitempty"`
	Seconds float64    `json:"seconds"`
	// Error says why the suite could not run at all.
	Error string `json:"error,omitempty"`
}

// OK says the suite ran and nothing failed.
func (t Tests) OK() bool { return t.Error == "" && t.Failed == 0 && t.FailedFiles == 0 }

// TestFile is one test file's result.
type TestFile struct {
	File string `json:"file"`
	// Planned is the file's plan (-1: none).
	Planned  int           `json:"planned"`
	Ran      int           `json:"ran"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Skipped  int           `json:"skipped"`
	Todo     int           `json:"todo,omitempty"`
	Failures []TestFailure `json:"failures,omitempty"`
	// Problem is why the file failed beyond failed tests: a bail out, a
	// plan not kept, an exit status.
	Problem string `json:"problem,omitempty"`
	// Output is the end of what the file printed, when Problem is set.
	Output string `json:"output,omitempty"`
	// BailOuts are the blocks in which nginx did not start: the file was
	// run again with each skipped, so all of them are in Failures.
	BailOuts int     `json:"bail_outs,omitempty"`
	Seconds  float64 `json:"seconds"`
}

// TestFailure is one failed test, at its block of the .t file.
type TestFailure struct {
	// Number is the test's TAP number (0 for a bail out).
	Number int    `json:"number,omitempty"`
	Desc   string `json:"desc"`
	// Block, Name and Line are the Test::Nginx block it belongs to
	// ("=== TEST 3: name" at Line), when found.
	Block int    `json:"block,omitempty"`
	Name  string `json:"name,omitempty"`
	Line  int    `json:"line,omitempty"`
	Diag  string `json:"diag,omitempty"`
	// Directive is, for a block nginx could not start, the directive
	// nginx did not know (unknown directive "dav_methods"): a module the
	// block needs.
	Directive string `json:"directive,omitempty"`
}

// TestSkip is a skip the config declared.
type TestSkip struct {
	File   string `json:"file"`
	Block  int    `json:"block,omitempty"`
	Reason string `json:"reason"`
}

// FlagChange is one module config's change to nginx's global flags.
type FlagChange struct {
	Module string `json:"module"`
	Source string `json:"source"`
	Change string `json:"change"`
}

// Found is one file a module's build stopped without and the package the
// distribution's file index named for it.
type Found struct {
	Module string `json:"module"`
	Source string `json:"source"`
	// Missing is what the build said it lacked: "<ldap.h>", "-lldap",
	// "the command g++".
	Missing string `json:"missing"`
	// Package is what was installed ("" when the index had none), Other
	// the index's other candidates, Searched where it looked.
	Package  string   `json:"package,omitempty"`
	Other    []string `json:"other,omitempty"`
	Searched string   `json:"searched"`
}

// Failure is a module that did not build in a cell.
type Failure struct {
	Module string `json:"module"`
	Source string `json:"source"`
	// Phase is where it failed.
	Phase Phase  `json:"phase,omitempty"`
	Error string `json:"error"`
	// Transient says the failure was the environment's (a download, a
	// package install), not the module's: plan --new schedules the cell
	// again. Identity is the module content that failed, when known.
	Transient bool   `json:"transient,omitempty"`
	Identity  string `json:"identity,omitempty"`
	// Log links the build's log (the Actions run), when known.
	Log string `json:"log,omitempty"`
}

// errorMarks are what the first real error line of a failure holds: the
// compiler's or configure's error, make's missing rule, the linker's, the
// dynamic loader's or nginx's.
var errorMarks = []string{"recompile with -fPIC", "error:", "undefined symbol", "No rule to make target", "multiple definition", "undefined reference",
	"cannot find -l", "[emerg]"}

// Reason is the failure's most telling line: the first real error line in
// it (compiler, configure, make, linker, nginx), else its first line
// (with the next one when the first only introduces it).
func (f Failure) Reason() string {
	lines := strings.Split(strings.TrimSpace(f.Error), "\n")
	for _, l := range lines {
		for _, m := range errorMarks {
			if strings.Contains(l, m) {
				return strings.TrimSpace(l)
			}
		}
	}
	first := strings.TrimSpace(lines[0])
	if strings.HasSuffix(first, ":") {
		for _, l := range lines[1:] {
			if l = strings.TrimSpace(l); l != "" {
				return first + " " + l
			}
		}
	}
	return first
}

// Phase is the part of a cell where a module failed.
type Phase string

// The phases of a cell, in order.
const (
	PhaseFetch     Phase = "fetch"     // downloading and extracting nginx
	PhaseDeps      Phase = "deps"      // installing the libraries modules need
	PhaseConfigure Phase = "configure" // nginx's configure with the modules
	PhaseCompile   Phase = "compile"   // make, and collecting the .so files
	PhaseSymbols   Phase = "symbols"   // resolving every symbol the .so needs
	PhaseSignature Phase = "signature" // the .so's module signature against the target nginx's
	PhaseSmoke     Phase = "smoke"     // loading into nginx and answering a request
	PhaseTest      Phase = "test"      // the module's own test suite
)

// Transient reports whether a failure in the phase is the environment's
// rather than the module's: fetching sources, installing packages.
func (p Phase) Transient() bool { return p == PhaseFetch || p == PhaseDeps }

// Entry is one built module file.
type Entry struct {
	// Module is the nginx module name, e.g. ngx_http_echo_module.
	Module string `json:"module"`
	// Source is the module source as the config names it: a git URL or a
	// path (config.Module.ID).
	Source string `json:"source"`
	// Commit is the module source commit built, when known.
	Commit string `json:"commit,omitempty"`
	// Identity names the module content built ("git:<commit>" or
	// "tree:<sha256>", modsrc.Identity): plan --new rebuilds a cell whose
	// module's identity changed since.
	Identity  string   `json:"identity,omitempty"`
	Nginx     string   `json:"nginx"`
	Plus      []string `json:"plus,omitempty"`
	Distro    string   `json:"distro"`
	Arch      string   `json:"arch"`
	File      string   `json:"file"`
	SHA256    string   `json:"sha256"`
	Signature string   `json:"signature,omitempty"`
	// Target is the SHA-256 of the nginx binary the cell built like
	// (build --like, an image's nginx, a distro's own): install on a host
	// running exactly that binary picks this build first.
	Target  string `json:"target,omitempty"`
	BuiltAt string `json:"built_at,omitempty"`
	// AssetID is the release asset that holds these bytes, set by the
	// release that uploaded (or found) them: an entry whose asset was
	// replaced since describes bytes that are no longer there.
	AssetID int64 `json:"asset_id,omitempty"`
	// Requires are the .so files (module names) that must be loaded
	// before this one: it uses their symbols (lua after ndk_http_module).
	Requires []string `json:"requires,omitempty"`
	// NginxModules are nginx's own dynamic modules that must be loaded
	// before this one (ngx_stream_module for a stream module): the target
	// nginx must have them, from its distro's package (Debian's
	// libnginx-mod-stream) or built in. They are not shipped.
	NginxModules []string `json:"nginx_modules,omitempty"`
	// Libraries are the shared libraries the .so links (its DT_NEEDED
	// sonames, as found in the build system: libbrotlienc.so.1), and
	// Runtime the distro packages that own them there (libbrotli1), as
	// dpkg-shlibdeps finds them: a host needs them installed for nginx to
	// load it; its package depends on them.
	Libraries []string `json:"libraries,omitempty"`
	Runtime   []string `json:"runtime,omitempty"`
	// Kind is "" for a module .so, or the native package format (deb,
	// rpm, apk) of a package holding the .so of Module; Package is then
	// its name=version.
	Kind    string `json:"kind,omitempty"`
	Package string `json:"package,omitempty"`
	// Release is the tag of the release holding the asset, when builds
	// are spread over several releases (in the index release's index).
	Release string `json:"release,omitempty"`
}

// Parse reads a manifest; name is used in errors, which give the line and
// column of a JSON mistake.
func Parse(name string, data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := position(data, se.Offset-1) // Offset is just past the bad byte
			return nil, fmt.Errorf("%s:%d:%d: %v", name, line, col, err)
		case errors.As(err, &te):
			line, col := position(data, te.Offset)
			return nil, fmt.Errorf("%s:%d:%d: %v", name, line, col, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if m.Schema != Schema {
		return nil, fmt.Errorf("%s: manifest schema %d, this nginx-modbuild reads %d: upgrade it", name, m.Schema, Schema)
	}
	for i, e := range m.Entries {
		if e.Source == "" || e.Nginx == "" || e.Distro == "" || e.Arch == "" {
			return nil, fmt.Errorf("%s: entry %d (%s) lacks source, nginx, distro or arch", name, i, e.File)
		}
	}
	return &m, nil
}

// MaxFile is the largest manifest read (one entry is about 500 bytes).
const MaxFile = 64 << 20

// Read parses the manifest file at path.
func Read(path string) (*Manifest, error) {
	data, err := userfile.Read(path, MaxFile)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return Parse(path, data)
}

func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Built reports, for the given module sources, whether a cell (nginx
// version, distro, arch) has an entry for every one of them.
func (m *Manifest) Built(sources []string) func(nginx, distro, arch string) bool {
	st := m.BuiltAs(sources, nil)
	return func(nginx, distro, arch string) bool {
		ok, _ := st(nginx, distro, arch)
		return ok
	}
}

// BuiltAs is Built when the modules' content counts too: identity maps a
// source to its current identity, and a cell whose entry for that source
// records another identity is not built (the module changed). Entries
// that record none (older manifests) count as built. The string says
// why: "built (identity)", "x changed: built from A, now B", "x not built
// yet".
func (m *Manifest) BuiltAs(sources []string, identity map[string]string) func(nginx, distro, arch string) (bool, string) {
	have := map[[4]string]Entry{}
	for _, e := range m.Entries {
		if e.Kind == "" {
			have[[4]string{e.Source, e.Nginx, e.Distro, e.Arch}] = e
		}
	}
	failed := map[[4]string]Failure{}
	for _, c := range m.Cells {
		for _, f := range c.Failures {
			failed[[4]string{f.Source, c.Nginx, c.Distro, c.Arch}] = f
		}
	}
	return func(nginx, distro, arch string) (bool, string) {
		if len(sources) == 0 {
			return false, "no modules"
		}
		var ids, gaveUp []string
		for _, s := range sources {
			k := [4]string{s, nginx, distro, arch}
			e, ok := have[k]
			if !ok {
				f, failedBefore := failed[k]
				switch {
				case !failedBefore:
					return false, s + " not built yet"
				case f.Transient:
					return false, fmt.Sprintf("%s: retrying, its %s failed for a reason outside the module", s, f.Phase)
				case identity[s] != "" && f.Identity != "" && f.Identity != identity[s]:
					return false, fmt.Sprintf("%s changed since its %s failed", s, f.Phase)
				}
				gaveUp = append(gaveUp, fmt.Sprintf("%s failed (%s: %s) and has not changed since", s, f.Phase, f.Reason()))
				continue
			}
			if want := identity[s]; want != "" && e.Identity != "" && e.Identity != want {
				return false, fmt.Sprintf("%s changed: built from %s, now %s", s, e.Identity, want)
			}
			if e.Identity != "" {
				ids = append(ids, e.Identity)
			}
		}
		switch {
		case len(gaveUp) > 0:
			return true, strings.Join(gaveUp, "; ")
		case len(ids) > 0:
			return true, "already built from " + strings.Join(ids, ", ")
		}
		return true, "already built"
	}
}

// Merge adds other's entries and cells to m: an entry is keyed by its file
// name, a cell by nginx version, distro and arch; on a clash the later
// build (built_at) wins, and other wins a tie. The result is sorted.
func (m *Manifest) Merge(other *Manifest) {
	byFile := map[string]int{}
	for i, e := range m.Entries {
		byFile[e.File] = i
	}
	for _, e := range other.Entries {
		if i, ok := byFile[e.File]; ok {
			if e.BuiltAt >= m.Entries[i].BuiltAt {
				m.Entries[i] = e
			}
			continue
		}
		byFile[e.File] = len(m.Entries)
		m.Entries = append(m.Entries, e)
	}
	byCell := map[[3]string]int{}
	for i, c := range m.Cells {
		byCell[[3]string{c.Nginx, c.Distro, c.Arch}] = i
	}
	for _, c := range other.Cells {
		k := [3]string{c.Nginx, c.Distro, c.Arch}
		if i, ok := byCell[k]; ok {
			m.Cells[i] = c
			continue
		}
		byCell[k] = len(m.Cells)
		m.Cells = append(m.Cells, c)
	}
	m.Sort()
}

// Sort orders entries by file and cells by version, distro and arch.
func (m *Manifest) Sort() {
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].File < m.Entries[j].File })
	sort.Slice(m.Cells, func(i, j int) bool {
		a, b := m.Cells[i], m.Cells[j]
		return a.Nginx+"\x00"+a.Distro+"\x00"+a.Arch < b.Nginx+"\x00"+b.Distro+"\x00"+b.Arch
	})
}

// Encode is the manifest's canonical JSON.
func (m *Manifest) Encode() []byte {
	if m.Entries == nil {
		m.Entries = []Entry{}
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}
