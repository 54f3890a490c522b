package distrotest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// handUnit is one module built by hand, as its README says: the
// directories added (the module and what it needs beside it), extra
// configure arguments, and a step before configure.
type handUnit struct {
	name, adds, args, before string
}

// handUnits are the upstream corpus's modules built one at a time, as a
// careful user following each README does, with nginx.org's tarball,
// ./configure --with-compat and make modules.
var handUnits = []handUnit{
	{name: "vts", adds: "vts"},
	// sts's README: with stream-sts, and --with-stream.
	{name: "sts", adds: "stream-sts sts", args: "--with-stream"},
	// encrypted-session's README: after the NDK.
	{name: "encrypted-session", adds: "ndk encrypted-session"},
	{name: "naxsi", adds: "naxsi/naxsi_src"},
	{name: "acme", adds: "acme"},
	{name: "auth-ldap", adds: "auth-ldap"},
	{name: "opentracing", adds: "opentracing/opentracing"},
	// ngx_brotli's README: the brotli submodule built first with cmake,
	// static (BUILD_SHARED_LIBS=OFF), into deps/brotli/out.
	{name: "brotli", adds: "brotli", before: `mkdir -p deps/brotli/out && cd deps/brotli/out &&
cmake -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DCMAKE_C_FLAGS="-Ofast -m64 -march=native -mtune=native -flto -funroll-loops -ffunction-sections -fdata-sections -Wl,--gc-sections" -DCMAKE_CXX_FLAGS="-Ofast -m64 -march=native -mtune=native -flto -funroll-loops -ffunction-sections -fdata-sections -Wl,--gc-sections" -DCMAKE_INSTALL_PREFIX=./installed .. &&
cmake --build . --config Release --target brotlienc`},
}

// handPackages are what the READMEs ask to install, beside a C compiler
// and nginx's own build dependencies: libldap-dev (auth-ldap), g++ and
// libopentracing-dev (opentracing), cmake (brotli), cargo (acme).
const handPackages = "gcc make libc6-dev libpcre2-dev zlib1g-dev libssl-dev libldap-dev g++ libopentracing-dev cmake cargo binutils"

// TestUpstreamCorpusLikeAHandBuild is issue 34's acceptance run: the
// upstream corpus (modules as their maintainers publish them, at pinned
// commits: Rust, -l libraries their READMEs name, C++, stream-only,
// global CFLAGS, and brotli's static-vs-shared library) in one config
// with no packages or configure arguments declared, in a bare debian:12
// and debian:13 with --install-deps --packages, against each module
// built by hand in another bare container of the release, as its README
// says. The tool builds every .so the hand builds build; where a hand
// build fails, the tool's reason is the hand build's own error line; the
// packages, published signed, apt-install into a fresh container with
// only the release's nginx, and nginx -t loads them all.
//
// It holds what single tests proved before (cargo's library keeping
// acme apart, the file index finding cargo, libldap-dev, g++ and
// libopentracing-dev), and found what they could not: with all modules
// in one config, Split placed the NDK beside vts and failed, every module
// was configured with acme, and none built; the NDK's package enabled
// 50-, after encrypted-session's, which nginx -t then refused.
//
// Debian 13's Contents index is refused by apt here (the archive serves
// it at another size than its InRelease lists): there the modules only
// the index could serve (auth-ldap, opentracing, acme's cargo) fail, and
// their reasons must be the compiler's or config's own word on what is
// missing. Once the archive is consistent, the same test demands all.
func TestUpstreamCorpusLikeAHandBuild(t *testing.T) {
	for _, r := range []struct{ image, distro, nginx, ndk string }{
		{"debian:12", "debian-12", "1.22.1", "0.3.2"},
		{"debian:13", "debian-13", "1.26.3", "0.3.4"},
	} {
		t.Run(r.distro, func(t *testing.T) {
			mirror := testenv.Mirror(t, "nginx-"+r.nginx+".tar.gz")
			src := upstreamSources(t, filepath.Join(mirror, r.distro, "libnginx-mod-http-ndk_"+r.ndk+".orig.tar.gz"))
			hand := handBuild(t, r.image, mirror, src, r.nginx)
			toolBuildsWhatHandsBuild(t, r.image, r.distro, r.nginx, mirror, src, hand)
		})
	}
}

// upstreamSources lays out the corpus under a new directory: each
// module by its short name, brotli's submodule in ngx_brotli/deps/brotli
// (as git submodule update puts it), the NDK from Debian's orig tarball
// (nginx's release tarball of it) for encrypted-session.
func upstreamSources(t *testing.T, ndk string) string {
	src := t.TempDir()
	placeUpstream(t, src, map[string]string{
		"vts": "nginx-module-vts", "sts": "nginx-module-sts", "stream-sts": "nginx-module-stream-sts",
		"encrypted-session": "encrypted-session-nginx-module", "naxsi": "naxsi", "acme": "nginx-acme",
		"auth-ldap": "nginx-auth-ldap", "opentracing": "nginx-opentracing", "brotli": "ngx_brotli",
	})
	sub := filepath.Join(src, "brotli", "deps", "brotli")
	os.Remove(sub)
	if err := os.Rename(testenv.Upstream(t, "brotli"), sub); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "ndk")
	extract(t, ndk, tmp)
	if err := os.Rename(configDir(t, tmp), filepath.Join(src, "ndk")); err != nil {
		t.Fatal(err)
	}
	return src
}

// handResult is one hand-built unit: the .so files make left in objs/,
// whether configure and make succeeded, and the log.
type handResult struct {
	built []string
	ok    bool
	log   string
}

// handBuild builds each handUnit in a bare container of image with the
// READMEs' packages, one at a time, and returns the results by unit
// name. The container is committed as an image named by everything the
// builds read (the script, the pinned trees), so a second run reads the
// same hand builds instead of making them again.
func handBuild(t *testing.T, image, mirror, src, nginx string) map[string]handResult {
	var b strings.Builder
	fmt.Fprintf(&b, "set -e\n# corpus:")
	pins := testenv.Pins(t)
	for _, n := range slices.Sorted(maps.Keys(pins)) {
		fmt.Fprintf(&b, " %s", pins[n].Tree[:12])
	}
	fmt.Fprintf(&b, "\napt-get update -q >/dev/null\nDEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends %s >/dev/null\n", handPackages)
	fmt.Fprintf(&b, "mkdir -p /hand && cd /hand && tar -xzf /mirror/nginx-%s.tar.gz\n", nginx)
	for _, u := range handUnits {
		var adds []string
		for _, a := range strings.Fields(u.adds) {
			adds = append(adds, "--add-dynamic-module=/hand/src/"+a)
		}
		before := ""
		if u.before != "" {
			before = "cd /hand/src/" + u.name + " && " + u.before + " && "
		}
		fmt.Fprintf(&b, `rm -rf /hand/src && cp -a /src /hand/src && mkdir -p /hand/%[1]s
cd /hand/nginx-%[2]s && rm -rf objs
if ( %[3]s cd /hand/nginx-%[2]s && ./configure --with-compat %[4]s %[5]s && make modules ) >/hand/%[1]s/log 2>&1; then echo ok >/hand/%[1]s/status; else echo failed >/hand/%[1]s/status; fi
for f in objs/*.so; do [ -e "$f" ] && basename "$f" .so >>/hand/%[1]s/built; objdump -p "$f" >>/hand/%[1]s/needed 2>&1 || true; done; true
`, u.name, nginx, before, u.args, strings.Join(adds, " "))
	}
	b.WriteString("rm -rf /hand/src /hand/nginx-" + nginx + "\n")
	img := testenv.MadeImage(t, image, "nginx-modbuild-test/handbuild", b.String(),
		testenv.Mount{Host: mirror, Container: "/mirror", ReadOnly: true},
		testenv.Mount{Host: src, Container: "/src", ReadOnly: true})
	c := testenv.StartContainer(t, img)
	out := map[string]handResult{}
	ctx := context.Background()
	for _, u := range handUnits {
		dir := "/hand/" + u.name
		r := handResult{
			ok:  strings.TrimSpace(c.Shell(ctx, "cat "+dir+"/status")) == "ok",
			log: c.Shell(ctx, "cat "+dir+"/log"),
		}
		r.built = strings.Fields(c.Shell(ctx, "cat "+dir+"/built 2>/dev/null || true"))
		sort.Strings(r.built)
		if u.name == "brotli" {
			// The static-vs-shared case: the hand build's .so carries brotli.
			if needed := c.Shell(ctx, "cat "+dir+"/needed 2>/dev/null || true"); strings.Contains(needed, "libbrotli") {
				t.Errorf("the hand build of brotli (static, as its README says) needs a shared libbrotli:\n%s", needed)
			}
		}
		t.Logf("by hand, %s: ok=%v, built %v; %s", u.name, r.ok, r.built, handError(r.log))
		out[u.name] = r
	}
	return out
}

// handError is a failed hand build's own error: configure's last word
// when configure stopped (where a config says what is missing), else
// the first line of the compiler's, linker's or tool's error, from
// "error: " on.
func handError(log string) string {
	ls := strings.Split(strings.TrimSpace(log), "\n")
	configured := strings.Contains(log, "Configuration summary")
	if !configured {
		for i := len(ls) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(ls[i]); l != "" {
				return l
			}
		}
	}
	for _, l := range ls {
		if i := strings.Index(l, "error: "); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
		if strings.Contains(l, "cannot find -l") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// toolBuildsWhatHandsBuild runs the tool on the corpus in one config in
// a bare container of image and compares what it built with the hand
// builds, then apt-installs its packages beside the release's nginx.
func toolBuildsWhatHandsBuild(t *testing.T, image, distro, nginx, mirror, src string, hand map[string]handResult) {
	work := t.TempDir()
	var mods []module
	for _, d := range []string{"vts", "stream-sts", "sts", "ndk", "encrypted-session", "naxsi/naxsi_src", "acme", "auth-ldap", "opentracing/opentracing", "brotli"} {
		mods = append(mods, module{name: d})
	}
	writeConfig(t, filepath.Join(work, "cfg.yml"), mods, `location = /t { return 200 "up"; }`, "/t", "")
	c := toolContainer(t, image, mirror, src, work)
	out, err := build(c, "cfg.yml", nginx, distro, "dist", "--packages")
	if err != nil && !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("build: %v\n%s", err, testenv.Tail(out, 60))
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "configure order") || strings.Contains(l, "global flags") || strings.Contains(l, "collision") || strings.Contains(l, "Contents index") {
			t.Logf("the tool: %s", strings.TrimSpace(l))
		}
	}
	m := cellManifest(t, filepath.Join(work, "dist"))
	cell := m.Cells[0]
	built := builtNames(m)
	t.Logf("the tool built %v", built)
	reasons := map[string]string{}
	for _, f := range cell.Failures {
		reasons[f.Module] = f.Reason()
		t.Logf("the tool: %s failed in %s: %s", f.Module, f.Phase, f.Reason())
	}
	for _, f := range cell.Found {
		t.Logf("the tool: %s lacked %s: installed %s (%s)", f.Module, f.Missing, f.Package, f.Searched)
	}
	indexRefused := strings.Contains(out, "the file index could not tell") && strings.Contains(out, "download "+distro+"'s Contents index")
	for _, u := range handUnits {
		h := hand[u.name]
		for _, so := range h.built {
			if slices.Contains(built, so) {
				continue
			}
			reason := failureOf(reasons, so, u.name)
			if indexRefused && reason != "" {
				// The release's Contents index could not be read (the
				// archive here serves trixie's at other sizes than its
				// InRelease lists): what the hand build installed by
				// hand cannot be found; the reason must still be the
				// compiler's or linker's own.
				t.Logf("%s: built by hand, not by the tool: the file index was refused; its reason: %s", so, reason)
				if !lacking(reason) {
					t.Errorf("%s's reason %q: want the compiler's, linker's or config's own word on what is missing", so, reason)
				}
				continue
			}
			t.Errorf("%s: built by hand (%s), not by the tool: %s\n%s", so, u.name, reason, testenv.Tail(out, 60))
		}
		if h.ok {
			continue
		}
		want := handError(h.log)
		reason := failureOf(reasons, "", u.name)
		if reason == "" {
			// The tool built it where the hand build failed: Debian's
			// module tree compiles without -Werror (encrypted-session's
			// MD5() is a warning there).
			t.Logf("%s: failed by hand (%s), built by the tool", u.name, want)
			continue
		}
		switch {
		case want != "" && strings.Contains(reason, want):
		case indexRefused && lacking(reason):
			// What the hand build installed by hand (cargo) was not found.
			t.Logf("%s failed by hand with %q; the tool, without the file index: %s", u.name, want, reason)
		default:
			t.Errorf("%s failed by hand with %q; the tool's reason: %q", u.name, want, reason)
		}
	}
	upstreamFolded(t, out, m, indexRefused)
	pub := upstreamPackagesLoad(t, image, distro, work, m)
	toolsLastProof(t, image, pub, m)
}

// toolsLastProof is the cell's last proof done by the tool itself: in a
// fresh container of image with only the release's nginx, install
// --install-deps puts every module of the release in place, installing
// the runtime packages the manifest names (libbrotli1 for brotli's
// shared libbrotlienc, libnginx-mod-stream for the stream modules) first,
// and nginx -t passes with them all. Without --install-deps, the same
// install is refused and rolled back, naming the package to install.
func toolsLastProof(t *testing.T, image, pub string, m manifest.Manifest) {
	ctx := context.Background()
	c := testenv.StartContainer(t, image,
		testenv.Mount{Host: testenv.ToolBinary(t), Container: "/usr/local/bin/nginx-modbuild", ReadOnly: true},
		testenv.Mount{Host: pub, Container: "/pub", ReadOnly: true})
	c.Shell(ctx, "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx >/dev/null")
	var mods, runtime []string
	for _, e := range m.Entries {
		if e.Kind == "" {
			mods = append(mods, e.Module)
			runtime = append(runtime, e.Runtime...)
		}
	}
	argv := func(flags ...string) []string {
		return append(append([]string{"nginx-modbuild", "install", "--from", "/pub", "--no-provenance"}, flags...), mods...)
	}
	if slices.Contains(runtime, "libbrotli1") {
		out, err := c.Exec(ctx, nil, argv()...)
		if err == nil || !strings.Contains(out, "libbrotli1") {
			t.Errorf("install without --install-deps, libbrotli1 absent: %v, want refused naming libbrotli1\n%s", err, testenv.Tail(out, 20))
		}
	}
	out, err := c.Exec(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, argv("--install-deps")...)
	if err != nil {
		t.Fatalf("install --install-deps %v in a fresh %s with only nginx: %v\n%s", mods, image, err, testenv.Tail(out, 40))
	}
	t.Logf("install --install-deps: %s", strings.TrimSpace(testenv.Tail(out, 4)))
	for _, p := range runtime {
		if st := c.Shell(ctx, "dpkg-query -W -f='${db:Status-Abbrev}' "+p+" 2>/dev/null || true"); !strings.HasPrefix(st, "ii") {
			t.Errorf("runtime package %s not installed by install --install-deps: %q", p, st)
		}
	}
	if res, err := c.Exec(ctx, nil, "nginx", "-t"); err != nil {
		t.Errorf("nginx -t after install --install-deps: %v\n%s", err, res)
	}
}

// lacking tells whether a reason's first line is a compiler's, linker's
// or config's own word that something is missing (a header, a library,
// a command), not a fragment of make's commands.
func lacking(reason string) bool {
	first, _, _ := strings.Cut(reason, "\n")
	if strings.Contains(first, "-o ") {
		return false
	}
	for _, w := range []string{"No such file", "cannot find -l", "cc1plus", "is not found"} {
		if strings.Contains(first, w) {
			return true
		}
	}
	return false
}

// failureOf is the tool's reason for the module of so (a .so name), or
// for the module directory name when so is empty.
func failureOf(reasons map[string]string, so, name string) string {
	if r, ok := reasons[so]; ok {
		return r
	}
	for mod, r := range reasons {
		if strings.Contains(strings.ReplaceAll(mod, "_", "-"), name) || strings.Contains(mod, strings.ReplaceAll(name, "-", "_")) {
			return r
		}
	}
	return ""
}

// upstreamFolded checks what issue 34's single-purpose tests proved, in
// the one config: acme configured apart (its ADDON_DEPS), what the file
// index found (the packages the hand builds installed: cargo, libldap-dev,
// g++, libopentracing-dev), brotli's CFLAGS recorded, and brotli's
// shared libraries resolved to their runtime package.
func upstreamFolded(t *testing.T, out string, m manifest.Manifest, indexRefused bool) {
	cell := m.Cells[0]
	if !strings.Contains(out, "configured apart from") {
		t.Errorf("the log does not say which modules are configured apart:\n%s", testenv.Tail(out, 60))
	}
	found := map[string]string{}
	for _, f := range cell.Found {
		found[f.Missing] = f.Package
	}
	want := map[string]string{"the command cargo": "cargo", "<ldap.h>": "libldap-dev", "the command g++": "g++"}
	if indexRefused {
		want = map[string]string{}
	}
	for miss, pkg := range want {
		if found[miss] != pkg {
			t.Errorf("found %v: want %s from %s", found, miss, pkg)
		}
	}
	var ot bool
	for miss, pkg := range found {
		ot = ot || (strings.Contains(miss, "opentracing") && pkg == "libopentracing-dev")
	}
	if !ot && !indexRefused {
		t.Errorf("found %v: want opentracing's headers from libopentracing-dev", found)
	}
	var changes []string
	for _, g := range cell.GlobalFlags {
		changes = append(changes, g.Module+": "+g.Change)
	}
	wantChanges := []string{"CFLAGS += -Wno-deprecated-declarations", "CFLAGS += -DNDK_SET_VAR"}
	if !indexRefused {
		// Without cargo (not found without the index), acme's config stops.
		wantChanges = append(wantChanges, "libnginx_acme.a (built by make)")
	}
	for _, want := range wantChanges {
		if !strings.Contains(strings.Join(changes, "\n"), want) {
			t.Errorf("global changes recorded: %q, want %q", changes, want)
		}
	}
	for _, e := range m.Entries {
		if e.Module != "ngx_http_brotli_filter_module" || e.Kind != "" {
			continue
		}
		t.Logf("brotli filter: libraries %v, runtime %v", e.Libraries, e.Runtime)
		if strings.Contains(strings.Join(e.Libraries, " "), "libbrotlienc") && !slices.Contains(e.Runtime, "libbrotli1") {
			t.Errorf("brotli filter links %v and needs runtime %v: want libbrotli1", e.Libraries, e.Runtime)
		}
	}
}

// upstreamPackagesLoad publishes the cell's packages signed,
// apt-installs all of them into a fresh container of image with only the
// release's nginx, and runs nginx -t with every module loaded.
func upstreamPackagesLoad(t *testing.T, image, distro, work string, m manifest.Manifest) string {
	var pkgs []string
	debs, _ := filepath.Glob(filepath.Join(work, "dist", "*.deb"))
	for _, d := range debs {
		name, err := exec.Command("dpkg-deb", "-f", d, "Package").Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s Package: %v", d, err)
		}
		pkgs = append(pkgs, strings.TrimSpace(string(name)))
	}
	if len(pkgs) == 0 {
		t.Fatalf("no packages in %s", filepath.Join(work, "dist"))
	}
	pub := publishSigned(t, filepath.Join(work, "dist"))
	h, out, err := aptInstallServed(t, image, distro, pub, pkgs...)
	if err != nil {
		t.Fatalf("apt-get install %v: %v\n%s", pkgs, err, testenv.Tail(out, 30))
	}
	ctx := context.Background()
	for _, e := range m.Entries {
		for _, p := range e.Runtime {
			if st := h.Shell(ctx, "dpkg-query -W -f='${db:Status-Abbrev}' "+p+" 2>/dev/null || true"); !strings.HasPrefix(st, "ii") {
				t.Errorf("%s's runtime package %s not installed with its package: %q", e.Module, p, st)
			}
		}
	}
	loaded := h.Shell(ctx, "cat /etc/nginx/modules-enabled/*.conf")
	for _, e := range m.Entries {
		if e.Kind == "" && !strings.Contains(loaded, e.Module+".so") && !strings.Contains(loaded, filepath.Base(e.File)) {
			t.Errorf("%s: no load_module in /etc/nginx/modules-enabled after apt-get install:\n%s\napt-get install:\n%s", e.Module, loaded, testenv.Tail(out, 40))
		}
	}
	if res, err := h.Exec(ctx, nil, "nginx", "-t"); err != nil {
		t.Errorf("%s's nginx with %v installed from the repository: nginx -t: %v\n%s", distro, pkgs, err, res)
	} else {
		t.Logf("%s's nginx -t with %d packages from the repository: %s", distro, len(pkgs), strings.TrimSpace(res))
	}
	return pub
}
