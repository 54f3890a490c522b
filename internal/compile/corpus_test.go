package compile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/compile/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testenv"
)

// corpusLibs are the -dev packages the corpus's configs probe for, and
// the package lua's entry declares (lua needs resty.core at run time);
// the corpus test removes them first so --install-deps must bring them.
var corpusLibs = []string{"libpam0g-dev", "libmodsecurity-dev", "libluajit2-5.1-dev", "lua-resty-core"}

// corpusModule is one real module of the corpus: its Debian orig tarball
// and what its modbuild config entry declares.
type corpusModule struct {
	tarball  string
	env      map[string]string
	libs     []string
	packages map[distro.Family][]string
}

func luajitLib() string {
	out, err := exec.Command("cc", "-print-multiarch").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "/usr/lib"
	}
	return "/usr/lib/" + strings.TrimSpace(string(out))
}

// corpus is in the order a user might write it: lua and set-misc before
// the NDK they need.
func corpus() []corpusModule {
	return []corpusModule{
		{tarball: "libnginx-mod-http-lua_0.10.23.orig.tar.gz",
			// Debian's build sets these for lua's config, and links the
			// PCRE1 API lua calls (nginx itself uses PCRE2).
			env:  map[string]string{"LUAJIT_INC": "/usr/include/luajit-2.1", "LUAJIT_LIB": luajitLib()},
			libs: []string{"-lpcre"},
			// lua 0.10.23 will not start without lua-resty-core.
			packages: map[distro.Family][]string{distro.Apt: {"lua-resty-core"}}},
		{tarball: "libnginx-mod-http-set-misc_0.33.orig.tar.gz"},
		{tarball: "libnginx-mod-http-echo_0.63.orig.tar.gz"},
		{tarball: "libnginx-mod-http-headers-more-filter_0.34.orig.tar.gz"},
		{tarball: "libnginx-mod-http-ndk_0.3.4.orig.tar.gz"},
		{tarball: "libnginx-mod-http-modsecurity_1.0.3.orig.tar.gz"},
		{tarball: "libnginx-mod-http-auth-pam_1.5.5.orig.tar.gz"},
		{tarball: "libnginx-mod-http-uploadprogress_0.9.4.orig.tar.gz"},
		{tarball: "libnginx-mod-http-fancyindex_0.5.2.orig.tar.gz"},
		{tarball: "libnginx-mod-http-subs-filter_0.6.4.orig.tar.gz"},
	}
}

// removeCorpusLibs makes the machine one without the modules' libraries.
func removeCorpusLibs(t *testing.T) {
	t.Helper()
	testenv.Tool(t, "apt-get", "apt")
	var installed []string
	for _, p := range corpusLibs {
		out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if strings.Contains(string(out), "install ok installed") {
			installed = append(installed, p)
		}
	}
	if len(installed) == 0 {
		return
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "a machine without "+strings.Join(installed, " "), "run as root, or apt-get remove them")
	}
	cmd := exec.Command("apt-get", append([]string{"-o", "DPkg::Lock::Timeout=300", "remove", "-y", "-q"}, installed...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get remove %v: %v\n%s", installed, err, out)
	}
	t.Logf("removed %s: --install-deps must install them", strings.Join(installed, " "))
}

// handBuild is the upgrade guide by hand: ./configure --with-compat with
// every module (in an order that configures: NDK first), make -k modules.
// It returns the .so files make produced.
func handBuild(t *testing.T, mirror, nginx string, dirs []string, env []string) []string {
	t.Helper()
	root := celltest.Module(t, mirror, "nginx-"+nginx+".tar.gz")
	args := []string{"--with-compat"}
	for _, d := range dirs {
		args = append(args, "--add-dynamic-module="+d)
	}
	cmd := exec.Command("./configure", args...)
	cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hand configure for %s: %v\n%s", nginx, err, tail(string(out), 20))
	}
	mk := exec.Command("make", "-k", fmt.Sprintf("-j%d", runtime.NumCPU()), "modules")
	mk.Dir = root
	mk.CombinedOutput() // -k: a module that does not compile leaves its .so out
	sos, _ := filepath.Glob(filepath.Join(root, "objs", "*.so"))
	var out []string
	for _, s := range sos {
		out = append(out, strings.TrimSuffix(filepath.Base(s), ".so"))
	}
	sort.Strings(out)
	return out
}

// outcome is what a cell ended with: built .so names and failed modules
// with their phase.
type outcome struct {
	Built  []string
	Failed []string
}

func outcomeOf(t *testing.T, res Result, err error) (outcome, *ModulesFailed) {
	t.Helper()
	var mf *ModulesFailed
	if err != nil && !errors.As(err, &mf) {
		t.Fatalf("cell failed as a whole: %v", err)
	}
	var o outcome
	for _, f := range res.Files {
		o.Built = append(o.Built, strings.TrimSuffix(filepath.Base(f), "_"+res.Manifest.Cells[0].Nginx+".so"))
	}
	sort.Strings(o.Built)
	if mf != nil {
		for _, f := range mf.Failures {
			if strings.TrimSpace(f.Error) == "" {
				t.Errorf("%s: empty error message", f.Module)
			}
			o.Failed = append(o.Failed, f.Module+" "+f.Phase)
		}
		sort.Strings(o.Failed)
	}
	if (mf == nil) != (len(res.Manifest.Cells[0].Failures) == 0) {
		t.Errorf("error %v but manifest failures %v", err, res.Manifest.Cells[0].Failures)
	}
	return o, mf
}

// TestRealCorpus is issue 11's acceptance: ten real modules from
// Debian's archive plus hello-world in one cell, against nginx 1.22.1 (in
// two orders) and 1.26.3, on a machine that starts without the modules'
// libraries, with --install-deps and the smoke test on. What the tool
// builds is compared with what a hand-run configure + make modules
// builds; every .so built for 1.22.1 loads into Debian's nginx 1.22.1.
func TestRealCorpus(t *testing.T) {
	mirror := prerequisites(t)
	debianNginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	// This machine's packages (and so its nginx configuration: lua's
	// module comes with lua-resty-core) change until the test ends.
	testenv.HostLock(t)
	removeCorpusLibs(t)

	host, ok := distro.Lookup("debian-12")
	if !ok {
		t.Fatal("debian-12 not in the distro table")
	}
	install := &lockedInstaller{in: &sysdeps.Installer{Distro: host, Run: sysdeps.Exec, Log: testWriter{t}}}
	mods := corpus()
	dirs := map[string]string{}
	for _, m := range mods {
		dirs[m.tarball] = celltest.Module(t, mirror, m.tarball)
	}
	cellFor := func(nginx string, order []corpusModule) Options {
		var list []Module
		list = append(list, helloWorld())
		for _, m := range order {
			list = append(list, Module{ID: m.tarball, Dir: dirs[m.tarball], Env: m.env, Libs: m.libs, Packages: m.packages})
		}
		o := options(t, mirror, nginx, list...)
		o.Packages = install
		o.Smoke = &Smoke{Config: `location = /hello { hello_world "Hello, world"; }`, Request: "/hello"}
		return o
	}
	reversed := slices.Clone(mods)
	slices.Reverse(reversed)

	type run struct {
		res Result
		err error
	}
	results := map[string]*run{}
	var wg sync.WaitGroup
	for name, o := range map[string]Options{
		"1.22.1":          cellFor("1.22.1", mods),
		"1.22.1-reversed": cellFor("1.22.1", reversed),
		"1.26.3":          cellFor("1.26.3", mods),
	} {
		r := &run{}
		results[name] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.res, r.err = Run(context.Background(), o)
		}()
	}
	wg.Wait()

	// The hand runs, after --install-deps brought the libraries.
	handDirs := []string{helloWorld().Dir}
	for _, m := range []string{"libnginx-mod-http-ndk_0.3.4.orig.tar.gz"} {
		handDirs = append(handDirs, dirs[m])
	}
	for _, m := range mods {
		if !strings.Contains(m.tarball, "-ndk_") {
			handDirs = append(handDirs, dirs[m.tarball])
		}
	}
	env := []string{"LUAJIT_INC=" + mods[0].env["LUAJIT_INC"], "LUAJIT_LIB=" + mods[0].env["LUAJIT_LIB"]}

	for _, nginx := range []string{"1.22.1", "1.26.3"} {
		hand := handBuild(t, mirror, nginx, handDirs, env)
		r := results[nginx]
		got, mf := outcomeOf(t, r.res, r.err)
		t.Logf("nginx %s: tool built %v, failed %v; hand built %v", nginx, got.Built, got.Failed, hand)
		// The tool's set is the hand-run's, plus what it converted from
		// old-style configs and managed to build.
		want := slices.Clone(hand)
		for _, c := range r.res.Converted {
			if slices.Contains(got.Built, c) {
				want = append(want, c)
			}
		}
		sort.Strings(want)
		if diff := cmp.Diff(want, got.Built); diff != "" {
			t.Errorf("nginx %s: tool's .so set against the hand-run's (+converted) (-want +got):\n%s", nginx, diff)
		}
		// Anything the hand run built that the tool did not is a failure;
		// and every failure names its phase and the compiler's words.
		if mf != nil {
			for _, f := range mf.Failures {
				if f.Phase == "compile" && !strings.Contains(f.Error, "error:") {
					t.Errorf("nginx %s: %s: compile failure without the compiler's message: %s", nginx, f.Module, f.Error)
				}
			}
		}
	}

	// The order of the config does not change the outcome.
	a, _ := outcomeOf(t, results["1.22.1"].res, results["1.22.1"].err)
	b, _ := outcomeOf(t, results["1.22.1-reversed"].res, results["1.22.1-reversed"].err)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("1.22.1 outcome depends on the module order (-given +reversed):\n%s", diff)
	}
	// uploadprogress 0.9.4 really does not compile against 1.22.1
	// (ngx_table_elt_t.next arrived in 1.23.0) and does against 1.26.3.
	if !slices.Contains(a.Failed, "ngx_http_uploadprogress_module compile") {
		t.Errorf("1.22.1: uploadprogress not reported as a compile failure: %v", a.Failed)
	}

	// Every .so built for 1.22.1 loads into Debian's own nginx 1.22.1, in
	// the load order the tool recorded, and the modules answer.
	res := results["1.22.1"].res
	if !slices.Contains(a.Built, "ngx_http_lua_module") || !slices.Contains(a.Built, "ndk_http_module") {
		t.Fatalf("lua or ndk not built for 1.22.1: %v", a.Built)
	}
	srv, err := NewServer(debianNginx, t.TempDir(), res.Files, `
location = /echo { echo "hello from echo"; }
location = /hello { hello_world "Hello, world"; }
location = /lua { content_by_lua_block { ngx.say("hello from lua") } }
location = /misc { set_quote_sql_str $q "it's"; more_set_headers "X-Quoted: $q"; return 204; }
location = /dir { fancyindex on; }
`)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := srv.Test(context.Background()); err != nil {
		t.Fatalf("Debian's nginx -t with the tool's 1.22.1 modules: %v\n%s", err, out)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	for path, want := range map[string]string{"/echo": "hello from echo\n", "/hello": "Hello, world\n", "/lua": "hello from lua\n"} {
		status, body, err := srv.Get(context.Background(), path)
		if err != nil || status != 200 || body != want {
			t.Errorf("GET %s = %d %q, %v; want 200 %q\n%s", path, status, body, err, want, srv.ErrorLog())
		}
	}
	// lua and set-misc use NDK's symbols: the manifest says so.
	for _, e := range res.Manifest.Entries {
		if (e.Module == "ngx_http_lua_module" || e.Module == "ngx_http_set_misc_module") && !slices.Contains(e.Requires, "ndk_http_module") {
			t.Errorf("%s: requires %v, want ndk_http_module", e.Module, e.Requires)
		}
	}
}

// lockedInstaller runs one apt at a time for the cells built in parallel.
type lockedInstaller struct {
	mu sync.Mutex
	in *sysdeps.Installer
}

func (l *lockedInstaller) Resolve(ctx context.Context, c []string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.in.Resolve(ctx, c)
}

func (l *lockedInstaller) Install(ctx context.Context, p []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.in.Install(ctx, p)
}
