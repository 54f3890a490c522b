package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

const repo = "testdata/repo"

func TestParseFullExample(t *testing.T) {
	t.Parallel()
	// The example from DESIGN.md, with the distros this release knows.
	src := `nginx:
  lines: [stable, mainline]
  latest: 2
  constraint: ">= 1.24"
  versions: [1.26.3]
  plus: [R33, r36 p3, PLS.37.0.4.1]
  pin: 1.26.3
modules:
  - path: .
  - path: mod
  - git: https://github.com/openresty/headers-more-nginx-module
    ref: v0.37
configure: [--with-http_ssl_module]
distros: [debian-12, ubuntu-24.04, rocky-9, alpine-3.22, {name: opensuse-15, image: "opensuse/leap:15", family: yum}]
arch: [amd64, arm64]
runs-on: {arm64: my-arm-runner}
smoke:
  config: |
    location = /t { echo ok; }
  request: /t
`
	cfg, err := Parse("nginx-modbuild.yml", repo, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Nginx.Latest, 2; got != want {
		t.Errorf("latest = %d, want %d", got, want)
	}
	if diff := cmp.Diff([]string{"R33", "R36 P3", "PLS.37.0.4.1"}, cfg.Nginx.Plus); diff != "" {
		t.Errorf("plus (-want +got):\n%s", diff)
	}
	wantModules := []Module{
		{Path: ".", Pos: Pos{9, 5}},
		{Path: "mod", Pos: Pos{10, 5}},
		{Git: "https://github.com/openresty/headers-more-nginx-module", Ref: "v0.37", Pos: Pos{11, 5}},
	}
	if diff := cmp.Diff(wantModules, cfg.Modules); diff != "" {
		t.Errorf("modules (-want +got):\n%s", diff)
	}
	var names []string
	for _, d := range cfg.Distros {
		names = append(names, d.Name+"="+d.Image)
	}
	if got := strings.Join(names, " "); got != "debian-12=debian:12 ubuntu-24.04=ubuntu:24.04 rocky-9=rockylinux/rockylinux:9 alpine-3.22=alpine:3.22 opensuse-15=opensuse/leap:15" {
		t.Errorf("distros = %s", got)
	}
	if cfg.RunsOn["arm64"] != "my-arm-runner" || cfg.RunsOn["amd64"] != "ubuntu-latest" {
		t.Errorf("runs-on = %v", cfg.RunsOn)
	}
	if cfg.Smoke.Request != "/t" || !strings.Contains(cfg.Smoke.Config, "echo ok") {
		t.Errorf("smoke = %+v", cfg.Smoke)
	}
	v := mustVersion(t, "1.22.1")
	if cfg.Nginx.Allows(v) {
		t.Error("constraint >= 1.24 allows 1.22.1")
	}
}

// TestModuleTest reads a module's test: with its skips, in order, with
// the reason each gives.
func TestModuleTest(t *testing.T) {
	t.Parallel()
	src := `modules:
  - path: mod
    test:
      prove: t/
      needs: [dav, stream]
      packages: {apt: [libtest-nginx-perl]}
      skip:
        t/eval.t: needs the eval module
        "t/bug.t TEST 13": needs lua-nginx-module
  - path: .
    test: {run: make test, required: false, jobs: 3}
`
	cfg, err := Parse("nginx-modbuild.yml", repo, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &Test{Prove: "t", Needs: []string{"dav", "stream"}, Packages: map[distro.Family][]string{distro.Apt: {"libtest-nginx-perl"}},
		Skip:     []TestSkip{{File: "t/eval.t", Reason: "needs the eval module", Pos: Pos{8, 9}}, {File: "t/bug.t", Block: 13, Reason: "needs lua-nginx-module", Pos: Pos{9, 9}}},
		Required: true, Pos: Pos{4, 7}}
	if diff := cmp.Diff(want, cfg.Modules[0].Test); diff != "" {
		t.Errorf("test (-want +got):\n%s", diff)
	}
	if got := cfg.Modules[1].Test; got == nil || got.Run != "make test" || got.Required || got.Jobs != 3 {
		t.Errorf("run test %+v", got)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", "# only a comment\n", "---\n"} {
		cfg, err := Parse("c.yml", repo, []byte(src))
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		want := Default()
		want.File, want.Root = "c.yml", repo
		want.Modules = []Module{{Path: "."}} // testdata/repo has a config file
		if diff := cmp.Diff(want, cfg, cmpopts.IgnoreUnexported(Nginx{})); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", src, diff)
		}
	}
}

func TestLoadWithoutConfigFile(t *testing.T) {
	t.Parallel()
	cfg, err := Load(repo, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != "" || len(cfg.Modules) != 1 || cfg.Modules[0].Path != "." {
		t.Errorf("Load without config file = %+v, want the root module", cfg)
	}
	empty := t.TempDir()
	cfg, err = Load(empty, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Modules) != 0 {
		t.Errorf("a directory without a module config got modules %v", cfg.Modules)
	}
	_, err = Load(empty, filepath.Join(empty, "missing.yml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yml: cannot read config") {
		t.Errorf("explicit missing config: %v", err)
	}
}

func TestLoadReadsDefaultPath(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, ".github"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, DefaultPath), []byte("arch: [arm64]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != filepath.Join(root, DefaultPath) || cfg.Arch[0] != "arm64" {
		t.Errorf("Load = %+v", cfg)
	}
}

var positioned = regexp.MustCompile(`^bad\.yml:\d+(:\d+)?: \S.*$`)

func TestBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"unknown top-level key", "modlues: []\n", `bad.yml:1:1: unknown key "modlues" in the config (did you mean "modules"?)`},
		{"unknown nginx key", "nginx:\n  lastest: 2\n", `bad.yml:2:3: unknown key "lastest" in nginx (did you mean "latest"?)`},
		{"bad version", "nginx:\n  versions: [1.26.3, 1.26]\n", `bad.yml:2:22: bad nginx version "1.26" (want X.Y.Z, e.g. 1.26.3)`},
		{"bad pin", "nginx:\n  pin: latest\n", `bad.yml:2:8: nginx.pin: bad nginx version "latest" (want X.Y.Z, e.g. 1.26.3)`},
		{"bad constraint", "nginx:\n  constraint: \"~~ 1.24\"\n", `bad.yml:2:15: bad version constraint "~~ 1.24": malformed constraint: ~~ 1.24 (e.g. ">= 1.24, < 2.0")`},
		{"unknown line", "nginx:\n  lines: [stable, legacy]\n", `bad.yml:2:19: unknown release line "legacy" (want stable or mainline)`},
		{"bad latest", "nginx:\n  latest: many\n", `bad.yml:2:11: nginx.latest must be a whole number from 0 to 100 (how many of each line's newest releases to build), not "many"`},
		{"negative latest", "nginx:\n  latest: -1\n", `bad.yml:2:11: nginx.latest must be a whole number from 0 to 100 (how many of each line's newest releases to build), not "-1"`},
		{"unknown plus", "nginx:\n  plus: [R99]\n", `bad.yml:2:10: unknown NGINX Plus release "R99"`},
		{"unknown distro", "distros: [debian-12, centos-7]\n", `bad.yml:1:22: unknown distro "centos-7" (known: `},
		{"distro scalar", "distros: debian-12\n", `bad.yml:1:10: distros must be a list, e.g. [debian-12, ubuntu-24.04], not "debian-12"`},
		{"duplicate distro", "distros: [debian-12, debian-12]\n", `bad.yml:1:22: distro debian-12 listed twice`},
		{"duplicate distro by map", "distros: [debian-12, {name: debian-12, packaged: 1.22.1}]\n", `bad.yml:1:22: distro debian-12 listed twice`},
		{"packaged float", "distros: [{name: fedora-44, packaged: 1.28}]\n", `bad.yml:1:39: distro fedora-44: packaged: `},
		{"packaged not bool", "nginx: {packaged: yes please}\n", `bad.yml:1:19: nginx.packaged must be true or false`},
		{"custom distro family", "distros: [{name: x, image: x:1, family: pacman}]\n", `bad.yml:1:11: distro x: unknown package family "pacman" (want apt, dnf, yum or apk)`},
		{"unknown arch", "arch: [amd64, riscv64]\n", `bad.yml:1:15: unknown arch "riscv64" (want amd64 or arm64)`},
		{"empty modules", "modules: []\n", `bad.yml:1:10: modules is empty: list at least one module, e.g. - path: .`},
		{"module without source", "modules:\n  - ref: v1\n", `bad.yml:2:5: a module needs path (a directory with an nginx module config file) or git (a repository URL)`},
		{"module path and git", "modules:\n  - {path: ., git: https://x/y}\n", `bad.yml:2:5: a module has either path or git, not both`},
		{"module path without config", "modules:\n  - path: nowhere\n", `bad.yml:2:5: module path "nowhere" has no nginx module config file`},
		{"module bad git url", "modules:\n  - git: not a url\n", `bad.yml:2:5: module git "not a url" is not a repository URL`},
		{"ref without git", "modules:\n  - {path: ., ref: main}\n", `bad.yml:2:5: ref goes with git, not path`},
		{"custom distro path name", "distros: [{name: ../../x, image: debian:12, family: apt}]\n", `bad.yml:1:11: distro name "../../x": a name must be`},
		{"custom distro image", "distros: [{name: x, image: \"x; id\", family: apt}]\n", `bad.yml:1:11: distro x: image "x; id" is not a container image reference`},
		{"ref like an option", "modules:\n  - {git: https://x/y, ref: --upload-pack=touch}\n", `bad.yml:2:5: module ref "--upload-pack=touch" is not a tag, branch or commit name`},
		{"same path twice", "modules:\n  - path: .\n  - path: ./\n", `bad.yml:3:5: module ./ listed twice`},
		{"module env name", "modules:\n  - {path: ., env: {PATH: /x}}\n", `bad.yml:2:21: module env: "PATH" is not a variable a module config may be given`},
		{"module env LD_AUDIT", "modules:\n  - {path: ., env: {LD_AUDIT: /x.so}}\n", `bad.yml:2:21: module env: "LD_AUDIT" is not a variable a module config may be given`},
		{"module env BASH_ENV", "modules:\n  - {path: ., env: {BASH_ENV: /x}}\n", `bad.yml:2:21: module env: "BASH_ENV" is not a variable a module config may be given`},
		{"packages.maintainer newline", "packages:\n  maintainer: \"Jane <j@example.com>\\nPre-Depends: evil\"\n", `bad.yml:2:15: packages.maintainer must be one line of text with no control characters`},
		{"module env IFS", "modules:\n  - {path: ., env: {IFS: x}}\n", `bad.yml:2:21: module env: "IFS" is not a variable a module config may be given`},
		{"module env wrapper's own", "modules:\n  - {path: ., env: {nmb_rec: /x}}\n", `bad.yml:2:21: module env: "nmb_rec" is not a variable a module config may be given`},
		{"module env list", "modules:\n  - {path: ., env: [A]}\n", `bad.yml:2:20: module env must be a mapping`},
		{"module libs", "modules:\n  - {path: ., libs: [\"-lpcre; rm -rf /\"]}\n", `bad.yml:2:22: module libs: "-lpcre; rm -rf /" is not a link argument`},
		{"module packages family", "modules:\n  - {path: ., packages: {pacman: [x]}}\n", `bad.yml:2:26: module packages: unknown package family "pacman"`},
		{"module requires unknown", "modules:\n  - {path: ., requires: [../ndk]}\n", `bad.yml:2:25: module . requires "../ndk", which is not a module in this config`},
		{"duplicate module", "modules:\n  - path: .\n  - path: .\n", `bad.yml:3:5: module . listed twice`},
		{"reserved configure arg", "configure: [--with-http_ssl_module, --add-dynamic-module=../x]\n", `bad.yml:1:37: configure argument --add-dynamic-module is set by nginx-modbuild itself; remove it`},
		{"configure not a flag", "configure: [with-debug]\n", `bad.yml:1:13: configure argument "with-debug" must start with --`},
		{"smoke request", "smoke:\n  config: 'location = /t { return 200; }'\n  request: t\n", `bad.yml:3:12: smoke.request "t" must be a path starting with /, e.g. /t`},
		{"bump policy", "bump:\n  policy: newest\n", `bad.yml:2:11: bump.policy "newest": want line (the newest release of the pin's line) or latest (the newest of any tracked line)`},
		{"bump pattern group", "bump:\n  files: [{path: Makefile, pattern: 'NGINX = ([0-9.]+)'}]\n", `bad.yml:2:37: bump.files pattern "NGINX = ([0-9.]+)" has no group named version, e.g. (?P<version>[0-9.]+)`},
		{"bump pattern syntax", "bump:\n  files: [{path: Makefile, pattern: '(?P<version>'}]\n", `bad.yml:2:37: bump.files pattern: error parsing regexp`},
		{"bump path outside", "bump:\n  files: [{path: ../x, pattern: '(?P<version>.)'}]\n", `bad.yml:2:18: bump.files path "../x" must be inside the repository`},
		{"bump file incomplete", "bump:\n  files: [{path: Makefile}]\n", `bad.yml:2:11: a bump.files entry needs path and pattern`},
		{"bump labels", "bump:\n  labels: dependencies\n", `bad.yml:2:11: bump.labels must be a list`},
		{"bad sha256", "nginx:\n  sha256: {1.22.1: abc}\n", `bad.yml:2:20: nginx.sha256: "abc" is not a SHA-256 (64 hex digits)`},
		{"sha256 bad version", "nginx:\n  sha256: {latest: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31}\n", `bad.yml:2:12: nginx.sha256: bad nginx version "latest"`},
		{"like relative", "distros: [{name: img, image: \"nginx:1.28.0\", family: apt, like: sbin/nginx, packaged: 1.28.0}]\n", `bad.yml:1:65: distro img: like: "sbin/nginx" is not an absolute path`},
		{"like without version", "distros: [{name: img, image: \"nginx:1.28.0\", family: apt, like: /usr/sbin/nginx}]\n", `bad.yml:1:65: distro img: like: needs packaged: 1.x.y, the version of the image's nginx (docker run --rm nginx:1.28.0 /usr/sbin/nginx -v)`},
		{"release not a bool", "modules: [{path: ., release: maybe}]\n", `bad.yml:1:30: a module's release must be true or false`},
		{"source not a string", "nginx:\n  source: [a]\n", `bad.yml:2:11: nginx.source (a directory, or a .tar.gz path or URL with {version}, its checksum under nginx.sha256) must be a string, not a list`},
		{"top level list", "- nginx\n", `bad.yml:1:1: the config must be a mapping of keys to values, not a list`},
		{"repeated key", "arch: [amd64]\narch: [arm64]\n", `bad.yml:`},
		{"yaml syntax", "nginx:\n  lines: [stable\n", `bad.yml:`},
		{"tab indent", "nginx:\n\tlatest: 1\n", `bad.yml:2: YAML syntax: found character that cannot start any token`},
		{"test prove and run", "modules:\n  - {path: ., test: {prove: t/, run: make test}}\n", `bad.yml:2:21: a module's test needs either prove (Test::Nginx files, e.g. prove: t/) or run (a command), not both or neither`},
		{"test neither", "modules:\n  - {path: ., test: {required: false}}\n", `bad.yml:2:21: a module's test needs either prove`},
		{"test prove outside", "modules:\n  - {path: ., test: {prove: ../t}}\n", `bad.yml:2:29: test prove "../t" must be a path inside the module's directory`},
		{"test skip key", "modules:\n  - {path: ., test: {prove: t/, skip: {\"t/x.t TEST one\": lua}}}\n", `bad.yml:2:40: test skip: "t/x.t TEST one" is not a test file (t/x.t) or a block of one (t/x.t TEST 13)`},
		{"test skip no reason", "modules:\n  - {path: ., test: {prove: t/, skip: {t/x.t: \"\"}}}\n", `bad.yml:2:47: test skip "t/x.t": say why it is skipped`},
		{"test jobs", "modules:\n  - {path: ., test: {prove: t/, jobs: 0}}\n", `bad.yml:2:39: test jobs "0": want how many test files run at once, 1 to 64`},
		{"test needs", "modules:\n  - {path: ., test: {prove: t/, needs: [--with-debug]}}\n", `bad.yml:2:41: test needs: "--with-debug" is not the name of an nginx module`},
		{"test required", "modules:\n  - {path: ., test: {prove: t/, required: maybe}}\n", `bad.yml:2:43: test required must be true or false, not "maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("bad.yml", repo, []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line:\n%s", msg)
			}
			if !positioned.MatchString(msg) {
				t.Errorf("error is not positioned: %s", msg)
			}
			if !strings.HasPrefix(msg, tt.want) {
				t.Errorf("error:\n got %s\nwant %s...", msg, tt.want)
			}
		})
	}
}

func TestManyMistakesAllReported(t *testing.T) {
	t.Parallel()
	_, err := Parse("bad.yml", repo, []byte("arch: [x86]\ndistros: [nope]\nnginx: {latest: x}\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 3 {
		t.Errorf("want 3 error lines, got %d:\n%s", len(lines), err)
	}
}

// TestErrorsDoNotEchoMegabytes: a huge value is cut in the message.
func TestErrorsDoNotEchoMegabytes(t *testing.T) {
	t.Parallel()
	_, err := Parse("bad.yml", t.TempDir(), []byte("distros: ["+strings.Repeat("x", 1<<20)+"]\n"))
	if err == nil || len(err.Error()) > 2000 || !strings.Contains(err.Error(), "more bytes)") {
		t.Errorf("error of %d bytes: %.200s", len(errString(err)), errString(err))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
