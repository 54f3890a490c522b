package distrotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// release is one Debian release and its own corpus of modules.
type release struct {
	distro, image, suite, nginx string
	// buildDep are the source packages whose build dependencies the hand
	// run installs (apt-get build-dep), as Debian builds these modules.
	buildDep []string
	// corpus unpacks the release's module sources from the mirror into
	// src and returns their config entries.
	corpus func(t *testing.T, mirror, src string) []module
	// runtime are packages the modules need at run time (lua's
	// resty.core), installed beside the release's nginx.
	runtime []string
	// conf is a server{} snippet proving modules answer, and answers
	// the requests with their "status body".
	conf    string
	answers map[string]string
	// reversed also builds the corpus in the reverse order: the outcome
	// must not change.
	reversed bool
	// from is what the packaged cell says it is built from: Debian's
	// nginx-dev tree where the release has one (devTree), else nginx.org's
	// tarball with the binary's arguments.
	from    string
	devTree bool
	// check asserts what is known of this release's corpus.
	check func(t *testing.T, m manifest.Manifest, log string)
}

// luaEnv is what Debian's build exports for lua's config.
var luaEnv = map[string]string{"LUAJIT_INC": "/usr/include/luajit-2.1", "LUAJIT_LIB": "/usr/lib/x86_64-linux-gnu"}

const echoConf = `location = /echo { echo "hello from echo"; }`

// debian11Corpus: Debian 11 ships its modules inside the nginx source
// package (debian/modules/, patches not applied).
func debian11Corpus(t *testing.T, mirror, src string) []module {
	tmp := t.TempDir()
	extract(t, filepath.Join(mirror, "debian-11", "nginx_1.18.0-6.1+deb11u3.debian.tar.xz"), tmp)
	entries, err := os.ReadDir(filepath.Join(tmp, "debian", "modules"))
	if err != nil {
		t.Fatal(err)
	}
	var mods []module
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(tmp, "debian", "modules", e.Name(), "config")); err != nil {
			continue // patches/, watch/
		}
		if err := os.Rename(filepath.Join(tmp, "debian", "modules", e.Name()), filepath.Join(src, e.Name())); err != nil {
			t.Fatal(err)
		}
		m := module{name: e.Name()}
		if e.Name() == "http-lua" {
			m.env = luaEnv
		}
		mods = append(mods, m)
	}
	return mods
}

// origCorpus unpacks every orig tarball of a release's mirror directory.
func origCorpus(rel string, lua module) func(t *testing.T, mirror, src string) []module {
	return func(t *testing.T, mirror, src string) []module {
		files, _ := filepath.Glob(filepath.Join(mirror, rel, "*.orig.tar.*"))
		var mods []module
		for _, f := range files {
			name := strings.TrimPrefix(strings.SplitN(filepath.Base(f), "_", 2)[0], "libnginx-mod-")
			tmp := filepath.Join(t.TempDir(), name)
			extract(t, f, tmp)
			if err := os.Rename(configDir(t, tmp), filepath.Join(src, name)); err != nil {
				t.Fatal(err)
			}
			m := module{name: name}
			if name == "http-lua" {
				m = lua
				m.name = name
			}
			mods = append(mods, m)
		}
		return mods
	}
}

var releases = []release{
	{distro: "debian-11", image: "debian:11", suite: "bullseye", nginx: "1.18.0", buildDep: []string{"nginx"},
		corpus: debian11Corpus, from: "building nginx.org's nginx-1.18.0.tar.gz", conf: echoConf, answers: map[string]string{"/echo": "200 hello from echo\n"},
		check: func(t *testing.T, m manifest.Manifest, log string) {
			// LuaJIT under Debian 11's name (Debian 12's is not in its
			// index), and nginx's LIBXSLT switch that dav-ext turns on
			// mapped to libxslt: neither sinks the cell.
			if !strings.Contains(log, "libluajit-5.1-dev") || strings.Contains(log, "libluajit2-5.1-dev") {
				t.Errorf("debian-11: LuaJIT not resolved to libluajit-5.1-dev:\n%s", testenv.Tail(log, 40))
			}
			if !slices.Contains(builtNames(m), "ngx_http_dav_ext_module") || !strings.Contains(log, "libxslt1-dev") {
				t.Errorf("debian-11: dav-ext not built with libxslt installed: %v", builtNames(m))
			}
			for _, f := range m.Cells[0].Failures {
				if f.Phase == "deps" {
					t.Errorf("debian-11: a deps failure: %+v", f)
				}
			}
		}},
	{distro: "debian-12", image: "debian:12", suite: "bookworm", nginx: "1.22.1",
		buildDep: []string{"libnginx-mod-http-lua", "libnginx-mod-http-modsecurity", "libnginx-mod-http-auth-pam", "libnginx-mod-http-geoip2",
			"libnginx-mod-http-brotli", "libnginx-mod-http-dav-ext", "libnginx-mod-nchan", "libnginx-mod-rtmp"},
		// lua 0.10.23 calls the PCRE1 API and nginx 1.22.1 uses PCRE2:
		// Debian links lua with -lpcre; it will not start without
		// resty.core.
		corpus:  origCorpus("debian-12", module{env: luaEnv, libs: []string{"-lpcre"}, packages: []string{"libpcre3-dev", "lua-resty-core"}}),
		runtime: []string{"lua-resty-core"},
		from:    "built from Debian's nginx-dev 1.22.1", devTree: true,
		conf:     echoConf + "\nlocation = /lua { content_by_lua_block { ngx.say(\"hello from lua\") } }",
		answers:  map[string]string{"/echo": "200 hello from echo\n", "/lua": "200 hello from lua\n"},
		reversed: true,
		check: func(t *testing.T, m manifest.Manifest, log string) {
			// uploadprogress 0.9.4 uses ngx_table_elt_t.next, which
			// arrived in nginx 1.23.0.
			if !failedWith(m, "ngx_http_uploadprogress_module", "compile", "next") {
				t.Errorf("debian-12: uploadprogress 0.9.4 against 1.22.1 is not a compile failure about next: %+v", m.Cells[0].Failures)
			}
			requiresNDK(t, m)
		}},
	{distro: "debian-13", image: "debian:13", suite: "trixie", nginx: "1.26.3",
		buildDep: []string{"libnginx-mod-http-lua", "libnginx-mod-http-modsecurity", "libnginx-mod-http-auth-pam", "libnginx-mod-http-geoip2",
			"libnginx-mod-http-brotli", "libnginx-mod-http-dav-ext", "libnginx-mod-nchan", "libnginx-mod-rtmp"},
		corpus:  origCorpus("debian-13", module{env: luaEnv, packages: []string{"lua-resty-core"}}),
		runtime: []string{"lua-resty-core"},
		from:    "built from Debian's nginx-dev 1.26.3", devTree: true,
		conf: echoConf, answers: map[string]string{"/echo": "200 hello from echo\n"},
		check: func(t *testing.T, m manifest.Manifest, log string) {
			if !slices.Contains(builtNames(m), "ngx_http_uploadprogress_module") {
				t.Error("debian-13: uploadprogress 0.9.4 did not build against 1.26.3")
			}
			requiresNDK(t, m)
		}},
}

// TestBareCorpus is the bare-container acceptance: in each bare Debian
// image, with --install-deps and smoke on, the release's own corpus,
// built for the release's packaged nginx, builds like that nginx (issue
// 31: from nginx-dev's tree with its conf_flags where the release has
// them, else with the binary's own arguments; the binary judges, and
// every .so has its signature) and gives the .so set a hand run gives in
// the same container (handRun; the tool runs first); every failure has
// a reason, and the release's own nginx loads every built .so and
// answers through one.
func TestBareCorpus(t *testing.T) {
	for _, r := range releases {
		t.Run(r.distro, func(t *testing.T) { corpusCell(t, r) })
	}
}

func corpusCell(t *testing.T, r release) {
	mirror := testenv.Mirror(t, r.distro)
	testenv.Image(t, r.image)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	mods := r.corpus(t, mirror, src)
	// The NDK first in the hand run, as Debian's rules do; the tool is
	// given the directory order, NDK somewhere in the middle.
	firstPath := ""
	for p := range r.answers {
		if firstPath == "" || p < firstPath {
			firstPath = p
		}
	}
	writeConfig(t, filepath.Join(work, "cfg.yml"), mods, r.conf, firstPath, "")
	rev := slices.Clone(mods)
	slices.Reverse(rev)
	writeConfig(t, filepath.Join(work, "reversed.yml"), rev, r.conf, firstPath, "")
	c := toolContainer(t, r.image, mirror, src, work)
	out, err := build(c, "cfg.yml", r.nginx, r.distro, "dist")
	os.WriteFile(filepath.Join(work, "tool.log"), []byte(out), 0o644)
	if err != nil && !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("nginx-modbuild build in %s: %v\n%s", r.image, err, testenv.Tail(out, 60))
	}
	m := cellManifest(t, filepath.Join(work, "dist"))
	built := builtNames(m)
	if want := fmt.Sprintf("the target nginx's, in %d .so", loadedCount(m)); !strings.Contains(out, r.from) || !strings.Contains(out, want) {
		t.Errorf("%s: the packaged cell does not say %q and %q:\n%s", r.distro, r.from, want, testenv.Tail(out, 60))
	}
	var failed []string
	for _, f := range m.Cells[0].Failures {
		failed = append(failed, f.Module+" ("+string(f.Phase)+"): "+f.Reason())
		if strings.TrimSpace(f.Error) == "" || strings.HasPrefix(f.Error, "no message") {
			t.Errorf("%s: %s failed in %s with no reason", r.distro, f.Module, f.Phase)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "FAILED "); i >= 0 && strings.HasSuffix(strings.TrimSpace(l), ":") {
			t.Errorf("%s: a FAILED line with an empty reason: %s", r.distro, l)
		}
	}
	t.Logf("%s: the tool built %d: %v; failed:\n%s", r.distro, len(built), built, strings.Join(failed, "\n"))
	if r.check != nil {
		r.check(t, m, out)
	}
	if r.reversed {
		out, err := build(c, "reversed.yml", r.nginx, r.distro, "dist-reversed")
		if err != nil && !strings.Contains(err.Error(), "exit status 1") {
			t.Fatalf("reversed order: %v\n%s", err, testenv.Tail(out, 40))
		}
		rm := cellManifest(t, filepath.Join(work, "dist-reversed"))
		if diff := cmp.Diff(outcome(m), outcome(rm)); diff != "" {
			t.Errorf("%s: the outcome depends on the module order (-given +reversed):\n%s", r.distro, diff)
		}
	}

	// A careful hand build enables stream when a module has a stream
	// part (its README says --with-stream), as the tool did.
	handExtra := ""
	if slices.Contains(m.Cells[0].Configure, "--with-stream=dynamic") {
		handExtra = "--with-stream=dynamic"
	}
	hand := handRun(t, c, r, mods, handExtra)
	t.Logf("%s: the hand run built %d: %v", r.distro, len(hand), hand)
	// The tool also builds what it converted from old-style configs
	// (for which nginx alone builds nothing).
	want := slices.Clone(hand)
	for _, e := range m.Entries {
		if !slices.Contains(want, e.Module) && oldStyle(t, src, e.Source) {
			want = append(want, e.Module)
		}
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, built); diff != "" {
		t.Errorf("%s: the tool's .so set against the hand run's (+converted old-style) (-want +got):\n%s\ntool log: %s",
			r.distro, diff, filepath.Join(work, "tool.log"))
	}

	// The release's own nginx loads them all, in the manifest's order, in
	// a fresh container with only it and the runtime packages the
	// manifest records (issue 34 item 6): those a hand objdump + dpkg -S
	// in the build container names, beyond the C library.
	var recorded []string
	for _, e := range m.Entries {
		for _, p := range e.Runtime {
			if !slices.Contains(recorded, p) {
				recorded = append(recorded, p)
			}
		}
	}
	sort.Strings(recorded)
	byHand := slices.DeleteFunc(runtimePackages(t, c, "/work/dist"), func(p string) bool { return p == "libc6" })
	if diff := cmp.Diff(byHand, recorded); diff != "" {
		t.Errorf("%s: the manifest's runtime packages against objdump + dpkg -S by hand (-hand +manifest):\n%s", r.distro, diff)
	}
	t.Logf("%s: runtime packages in the manifest: %v", r.distro, recorded)
	runtime := append(recorded, r.runtime...)
	var paths []string
	for p := range r.answers {
		paths = append(paths, p)
	}
	testOut, got := loadInto(t, r.image, filepath.Join(work, "dist"), m, runtime, r.conf, paths...)
	if !strings.Contains(testOut, "test is successful") {
		t.Fatalf("%s's own nginx -t with the %d built modules:\n%s", r.distro, len(m.Entries), testOut)
	}
	if diff := cmp.Diff(r.answers, got); diff != "" {
		t.Errorf("%s: answers of its own nginx (-want +got):\n%s", r.distro, diff)
	}
}

// runtimePackages are the packages that own the libraries the built .so
// files link (DT_NEEDED), asked of dpkg in the build container.
func runtimePackages(t *testing.T, c *testenv.Container, dist string) []string {
	out := c.Shell(context.Background(), `for f in `+dist+`/*.so; do objdump -p "$f" | awk '/NEEDED/ {print $2}'; done | sort -u |
while read -r lib; do dpkg -S "*/$lib" 2>/dev/null | head -1 | cut -d: -f1; done | sort -u`)
	return strings.Fields(out)
}

// loadedCount is how many .so files the cell loaded into the target: its
// entries and the nginx modules they need (ngx_stream_module, the
// target's own).
func loadedCount(m manifest.Manifest) int {
	own := map[string]bool{}
	n := 0
	for _, e := range m.Entries {
		if e.Kind != "" {
			continue
		}
		n++
		for _, x := range e.NginxModules {
			own[x] = true
		}
	}
	return n + len(own)
}

// outcome is what a cell built and which modules failed in which phase.
func outcome(m manifest.Manifest) []string {
	out := builtNames(m)
	for _, f := range m.Cells[0].Failures {
		out = append(out, "FAILED "+f.Module+" "+string(f.Phase))
	}
	sort.Strings(out)
	return out
}

func failedWith(m manifest.Manifest, module string, phase manifest.Phase, text string) bool {
	for _, f := range m.Cells[0].Failures {
		if f.Module == module && f.Phase == phase && strings.Contains(f.Error, text) {
			return true
		}
	}
	return false
}

// requiresNDK: lua and set-misc use NDK's symbols, so their manifest
// entries load after it.
func requiresNDK(t *testing.T, m manifest.Manifest) {
	t.Helper()
	for _, e := range m.Entries {
		if (e.Module == "ngx_http_lua_module" || e.Module == "ngx_http_set_misc_module") && !slices.Contains(e.Requires, "ndk_http_module") {
			t.Errorf("%s: requires %v, want ndk_http_module", e.Module, e.Requires)
		}
	}
}

// oldStyle reports whether the module at path (as the config names it,
// /src/<name>) has an old-style config: no ngx_module_type anywhere.
func oldStyle(t *testing.T, src, path string) bool {
	b, err := os.ReadFile(filepath.Join(src, strings.TrimPrefix(path, "/src/"), "config"))
	return err == nil && !strings.Contains(string(b), "ngx_module_type")
}

// handRun builds the modules by hand in the same container, as the
// module trackers' answer says ("compile with the same configure options
// as the installed binary") and as Debian builds its module packages,
// after apt-get build-dep of Debian's own packages of the modules: in a
// copy of nginx-dev's tree with its conf_flags where the release has one
// (make -f objs/Makefile: the tree writes no Makefile), else nginx.org's
// tarball with the arguments nginx -V prints, the paths of the modules
// Debian built into it left out; every module (NDK first), make -k
// modules. It returns the modules of the .so files make produced,
// nginx's own (--with-X=dynamic) left out.
func handRun(t *testing.T, c *testenv.Container, r release, mods []module, extra string) []string {
	ctx := context.Background()
	c.Shell(ctx, fmt.Sprintf(`cat > /etc/apt/sources.list.d/src.list <<EOF
deb-src http://deb.debian.org/debian %[1]s main
deb-src http://deb.debian.org/debian-security %[1]s-security main
EOF
apt-get update -q >/dev/null
apt-get build-dep -y -q %[2]s >/dev/null`, r.suite, strings.Join(r.buildDep, " ")))
	var dirs []string
	for _, first := range []bool{true, false} {
		for _, m := range mods {
			if strings.Contains(m.name, "ndk") == first {
				dirs = append(dirs, "/src/"+m.name)
			}
		}
	}
	env := ""
	for k, v := range luaEnv {
		env += k + "=" + v + " "
	}
	// nginx -V's arguments, without the paths of the modules Debian built
	// into it.
	flags := `eval "set -- $(nginx -V 2>&1 | sed -n 's/^configure arguments: //p')"; flags=(); for a; do case $a in --add-module=*|--add-dynamic-module=*) ;; *) flags+=("$a");; esac; done; `
	tree, args, mk := "/work/hand/nginx-"+r.nginx, `"${flags[@]}"`, "make"
	if r.devTree {
		tree, args, mk = "/work/hand/tree", `"${NGX_CONF_FLAGS[@]}"`, "make -f objs/Makefile"
		c.Shell(ctx, `apt-get install -y -q --no-install-recommends nginx-dev >/dev/null && rm -rf /work/hand && mkdir /work/hand && cp -a /usr/share/nginx/src /work/hand/tree`)
	} else {
		c.Shell(ctx, fmt.Sprintf("rm -rf /work/hand && mkdir /work/hand && tar -xzf /mirror/nginx-%s.tar.gz -C /work/hand", r.nginx))
	}
	printed, err := c.Exec(ctx, nil, "bash", "-c", flags+`printf '%s\n' "${flags[@]}"`)
	if err != nil {
		t.Fatalf("%s: nginx -V's arguments: %v\n%s", r.distro, err, printed)
	}
	own := append(strings.Fields(printed), strings.Fields(extra)...)
	// A module whose config stops configure is left out, and configure
	// runs again, as one would by hand.
	for {
		add := ""
		for _, d := range dirs {
			add += " --add-dynamic-module=" + d
		}
		out, err := c.Exec(ctx, nil, "bash", "-c", fmt.Sprintf("cd %s && %s if [ -f conf_flags ]; then source conf_flags; fi; %s ./configure %s %s %s 2>&1", tree, flags, env, args, extra, add))
		if err == nil {
			break
		}
		added := regexp.MustCompile(`(?m)^adding module in (\S+)$`).FindAllStringSubmatch(out, -1)
		if len(added) == 0 || !slices.Contains(dirs, added[len(added)-1][1]) {
			t.Fatalf("%s: hand configure failed outside every module:\n%s", r.distro, testenv.Tail(out, 20))
		}
		bad := added[len(added)-1][1]
		t.Logf("%s: by hand, configure stops in %s: %s", r.distro, bad, testenv.Tail(out, 1))
		dirs = slices.DeleteFunc(dirs, func(d string) bool { return d == bad })
	}
	out := c.Shell(ctx, fmt.Sprintf("cd %s && (%s -k -j2 modules >/work/hand/make.log 2>&1 || true) && ls objs/*.so", tree, mk))
	var names []string
	for _, l := range strings.Fields(out) {
		name := strings.TrimSuffix(filepath.Base(l), ".so")
		if !strings.HasSuffix(l, ".so") || nginxOwn(name, own) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// nginxOwn reports whether the .so named name is one of nginx's own
// modules that configure arguments build as .so files
// (--with-http_geoip_module=dynamic, --with-stream=dynamic).
func nginxOwn(name string, args []string) bool {
	for _, a := range args {
		if m, ok := strings.CutSuffix(strings.TrimPrefix(a, "--with-"), "=dynamic"); ok && (name == "ngx_"+m || name == "ngx_"+m+"_module") {
			return true
		}
	}
	return false
}
