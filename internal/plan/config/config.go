// Package config loads .github/nginx-modbuild.yml: which nginx versions to
// build, which modules, for which distributions and architectures. Every
// field has a default, and every mistake is reported as file:line:column.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// MaxFile is the largest config file read (a real one is a few KiB).
const MaxFile = 1 << 20

// DefaultPath is where the config lives in a repository.
const DefaultPath = ".github/nginx-modbuild.yml"

// Config is a loaded, validated configuration.
type Config struct {
	// File is the path the config was read from; empty when defaults
	// were used because the repository has no config file.
	File string `json:"file,omitempty"`
	// Root is the repository root that module paths are relative to.
	Root string `json:"-"`

	Nginx     Nginx             `json:"nginx"`
	Modules   []Module          `json:"modules"`
	Configure []string          `json:"configure,omitempty"`
	Distros   []distro.Distro   `json:"distros"`
	Arch      []string          `json:"arch"`
	RunsOn    map[string]string `json:"runs-on"`
	Smoke     Smoke             `json:"smoke"`
	Bump      Bump              `json:"bump"`
	Packages  Packages          `json:"packages"`
}

// Packages configures the native packages (.deb, .rpm, .apk) build makes
// of each built module.
type Packages struct {
	Enabled bool `json:"enabled,omitempty"`
	// Name is the package name template: {short} is the module's short
	// name (echo), {module} its full name; default nginx-module-{short}.
	Name string `json:"name,omitempty"`
	// Version is the modules' own version for package versions; default
	// 0.0.0+git<commit> (or 0.0.0 outside git).
	Version    string `json:"version,omitempty"`
	Maintainer string `json:"maintainer,omitempty"`
	Homepage   string `json:"homepage,omitempty"`
	// License defaults to what the module's LICENSE file says.
	License string `json:"license,omitempty"`
}

// Bump configures the pull requests that move pinned nginx versions.
type Bump struct {
	// Policy is "line" (default: the newest release of the pin's line,
	// so stable stays stable) or "latest" (the newest of any tracked line).
	Policy string `json:"policy"`
	// Labels go on the pull request.
	Labels []string `json:"labels,omitempty"`
	// Wait holds the pull request back until the release has the target
	// version built for every module on every configured distro and arch
	// (default: open it and list what failed or is missing).
	Wait bool `json:"wait,omitempty"`
	// Files declares more pins: a file and a regular expression whose
	// named group "version" is the pinned version.
	Files []BumpFile `json:"files,omitempty"`
}

// BumpFile is one declared pin.
type BumpFile struct {
	Path    string         `json:"path"`
	Pattern string         `json:"pattern"`
	Regexp  *regexp.Regexp `json:"-"`
}

// Bump policies.
const (
	PolicyLine   = "line"
	PolicyLatest = "latest"
)

// Nginx selects the nginx versions to build against.
type Nginx struct {
	Lines      []nginxver.Line `json:"lines"`
	Latest     int             `json:"latest"`
	Constraint string          `json:"constraint,omitempty"`
	Versions   []string        `json:"versions,omitempty"`
	// Plus holds canonical NGINX Plus release names ("R34", "PLS.37.0.4.1").
	Plus []string `json:"plus,omitempty"`
	Pin  string   `json:"pin,omitempty"`
	// Packaged adds, for each distro, the nginx version its own package
	// ships (distro.Distro.Packaged), built for that distro only.
	Packaged bool `json:"packaged,omitempty"`
	// PinPos is where the pin's value is in the config file.
	PinPos Pos `json:"-"`
	// SHA256 pins source tarball checksums by version, for mirrors that
	// serve no signatures.
	SHA256 map[string]string `json:"sha256,omitempty"`
	// Source, when set, is the nginx source cells build instead of
	// nginx.org's tarball: a fork's (freenginx, Angie) for a target binary
	// that is one. A directory, or a .tar.gz path or https:// URL in which
	// {version} stands for the cell's version, its checksum under SHA256.
	Source string `json:"source,omitempty"`

	constraint version.Constraints
}

// Allows reports whether v passes the configured constraint.
func (n Nginx) Allows(v *version.Version) bool {
	return n.constraint == nil || n.constraint.Check(v)
}

// Module is one module source: a directory in the repository or a git
// repository at a ref.
type Module struct {
	Path string `json:"path,omitempty"`
	Git  string `json:"git,omitempty"`
	Ref  string `json:"ref,omitempty"`
	// Env is set for the module's config when configure runs it.
	Env map[string]string `json:"env,omitempty"`
	// Libs are extra link arguments for its .so files.
	Libs []string `json:"libs,omitempty"`
	// Packages are distribution packages its build needs, per family.
	Packages map[distro.Family][]string `json:"packages,omitempty"`
	// Requires names other modules (by ID) to configure and load first.
	Requires []string `json:"requires,omitempty"`
	// NoRelease (release: false) builds the module for the cell's
	// checks and tests only (echo for headers-more's suite): its .so is
	// not written to the build output, so it is neither released nor
	// packaged.
	NoRelease bool `json:"no_release,omitempty"`
	// Test is how the module's own test suite runs (build --test).
	Test *Test `json:"test,omitempty"`
	// Pos is where the entry is in the config file, for error messages.
	Pos         Pos `json:"-"`
	RequiresPos Pos `json:"-"`
}

// Test is a module's own test suite: Test::Nginx files run with prove
// semantics, or a command.
type Test struct {
	// Prove is a directory (every *.t under it) or one .t file of the
	// module, relative to its directory: t/.
	Prove string `json:"prove,omitempty"`
	// Run is a shell command run in a copy of the module's directory,
	// with NGINX_BINARY, NGINX_MODULES and NGINX_LOAD_MODULE set.
	Run string `json:"run,omitempty"`
	// Skip are files or blocks a cell cannot run, each with its reason.
	Skip []TestSkip `json:"skip,omitempty"`
	// Packages the tests need (Perl modules, clients), per family.
	Packages map[distro.Family][]string `json:"packages,omitempty"`
	// Needs are nginx's own modules the suite uses (image_filter,
	// stream, realip): the cell's nginx is configured with them.
	Needs []string `json:"needs,omitempty"`
	// Required says a failing test fails the cell (default true).
	Required bool `json:"required"`
	// Timeout bounds the whole suite (default DefaultTestTimeout): a
	// test still running then is stopped, and fails.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Jobs runs this many test files at once, each nginx on a random
	// port in its own servroot (TEST_NGINX_RANDOMIZE). Unset, the files
	// run as prove runs them: one at a time in the module's own layout
	// (t/servroot, port 1984), which suites that hard-code them need.
	Jobs int `json:"jobs,omitempty"`
	Pos  Pos `json:"-"`
}

// DefaultTestTimeout bounds a module's suite when its test: names none.
const DefaultTestTimeout = 30 * time.Minute

// TestSkip is one declared skip: a whole file (Block 0) or one block
// ("=== TEST 13") of it.
type TestSkip struct {
	File   string `json:"file"`
	Block  int    `json:"block,omitempty"`
	Reason string `json:"reason"`
	Pos    Pos    `json:"-"`
}

// ID names the module source in plans and manifests: its git URL, or its
// path as written in the config.
func (m Module) ID() string {
	if m.Git != "" {
		return m.Git
	}
	return m.Path
}

// Smoke configures the smoke test of a build.
type Smoke struct {
	Config  string `json:"config,omitempty"`
	Request string `json:"request,omitempty"`
}

// Pos is a position in the config file.
type Pos struct {
	Line, Column int
}

// Error is a configuration mistake at a position in a file.
type Error struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Default returns the configuration used when a repository has none.
func Default() *Config {
	return &Config{
		Nginx: Nginx{
			Lines:  []nginxver.Line{nginxver.Stable, nginxver.Mainline},
			Latest: 1,
		},
		Distros: []distro.Distro{mustDistro("debian-12")},
		Arch:    []string{"amd64"},
		RunsOn:  map[string]string{"amd64": "ubuntu-latest", "arm64": "ubuntu-24.04-arm"},
		Bump:    Bump{Policy: PolicyLine},
	}
}

func mustDistro(name string) distro.Distro {
	d, _ := distro.Lookup(name)
	return d
}

// Load reads the config for the repository at root. With path empty it
// reads DefaultPath under root if present; otherwise, when root has an
// nginx module `config` file, it returns the defaults with that module;
// otherwise the defaults with no modules (commands that build say so).
// An explicitly given path must exist.
func Load(root, path string) (*Config, error) {
	explicit := path != ""
	if !explicit {
		path = filepath.Join(root, DefaultPath)
	}
	data, err := userfile.Read(path, MaxFile)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		cfg := Default()
		cfg.Root = root
		cfg.Modules = rootModule(root)
		return cfg, nil
	}
	if err != nil {
		msg := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err
		}
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read config: %v", msg)}
	}
	return Parse(path, root, data)
}

// ModuleSpecs reads build --module values, each a module as the config's
// modules: list would name it: git:URL[@REF] (a repository, at a tag,
// branch or commit) or a directory; they are checked as config entries
// are (root is where relative directories are).
func ModuleSpecs(root string, specs []string) ([]Module, error) {
	var b strings.Builder
	b.WriteString("modules:\n")
	for _, s := range specs {
		url, isGit := strings.CutPrefix(s, "git:")
		if !isGit {
			fmt.Fprintf(&b, "  - path: %q\n", s)
			continue
		}
		ref := ""
		if i := strings.LastIndex(url, "@"); i >= 0 && !strings.ContainsAny(url[i+1:], ":") {
			url, ref = url[:i], url[i+1:]
		}
		fmt.Fprintf(&b, "  - git: %q\n", url)
		if ref != "" {
			fmt.Fprintf(&b, "    ref: %q\n", ref)
		}
	}
	cfg, err := Parse("--module", root, []byte(b.String()))
	if err != nil {
		return nil, err
	}
	return cfg.Modules, nil
}
