package sysdeps

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func TestPackagesAndCommands(t *testing.T) {
	t.Parallel()
	deb, _ := distro.Lookup("debian-12")
	got := Packages(deb, true, []string{"LIBXSLT", "UNKNOWN"})
	want := []string{"gcc", "libc6-dev", "make", "libpcre2-dev", "zlib1g-dev", "libssl-dev", "libpcre3-dev", "libxslt1-dev"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Packages (-want +got):\n%s", diff)
	}
	alp, _ := distro.Lookup("alpine-3.22")
	if diff := cmp.Diff([][]string{{"apk", "add", "--no-cache", "gcc", "make"}}, InstallCommands(alp.Family, []string{"gcc", "make"})); diff != "" {
		t.Errorf("apk (-want +got):\n%s", diff)
	}
	rocky, _ := distro.Lookup("rocky-9")
	if got := strings.Join(InstallCommands(rocky.Family, []string{"gcc"})[0], " "); got != "dnf install -y -q gcc" {
		t.Errorf("dnf: %s", got)
	}
}

// TestInstallOnlyMissing checks idempotence with a recording runner: only
// missing packages are installed, and nothing when all are present.
func TestInstallOnlyMissing(t *testing.T) {
	t.Parallel()
	deb, _ := distro.Lookup("debian-12")
	installed := map[string]bool{"gcc": true, "make": true}
	var ran []string
	run := func(_ context.Context, argv []string) ([]byte, error) {
		if argv[0] == "dpkg-query" {
			if installed[argv[len(argv)-1]] {
				return []byte("install ok installed"), nil
			}
			return nil, errors.New("not installed")
		}
		ran = append(ran, strings.Join(argv, " "))
		return nil, nil
	}
	var log bytes.Buffer
	in := &Installer{Distro: deb, Run: run, Log: &log}
	if err := in.Install(context.Background(), []string{"gcc", "make", "zlib1g-dev"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"apt-get -o DPkg::Lock::Timeout=300 update -q", "apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends zlib1g-dev"}
	if diff := cmp.Diff(want, ran); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if !strings.Contains(log.String(), "+ apt-get -o DPkg::Lock::Timeout=300 install") {
		t.Errorf("commands not printed:\n%s", log.String())
	}
	ran = nil
	installed["zlib1g-dev"] = true
	in.Install(context.Background(), []string{"gcc", "make", "zlib1g-dev"})
	if len(ran) != 0 {
		t.Errorf("second run installed again: %v", ran)
	}
}

// TestInstallOnThisMachine asks the real package manager: after
// scripts/test's set-up every build package is present, so nothing runs.
func TestInstallOnThisMachine(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "dpkg-query", "dpkg")
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		testenv.Missing(t, "/etc/os-release", "a Linux distribution")
	}
	d, err := distro.FromOSRelease(string(b))
	if err != nil {
		t.Fatal(err)
	}
	var installers []string
	run := func(ctx context.Context, argv []string) ([]byte, error) {
		if argv[0] != "dpkg-query" && argv[0] != "rpm" && argv[0] != "apk" {
			installers = append(installers, strings.Join(argv, " "))
			return nil, nil
		}
		return Exec(ctx, argv)
	}
	var log bytes.Buffer
	in := &Installer{Distro: d, Run: run, Log: &log}
	if err := in.Install(context.Background(), Packages(d, true, nil)); err != nil {
		t.Fatal(err)
	}
	if len(installers) != 0 {
		testenv.Missing(t, "build packages "+strings.Join(installers, "; "), "run scripts/test as root")
	}
	if !strings.Contains(log.String(), "packages installed") {
		t.Errorf("log: %s", log.String())
	}
}

// TestLibraryPackagesExist checks every apt name of the library table
// against Debian's package index on this machine (the table is kept
// current by this test), and the lookups by -l flag and header.
func TestLibraryPackagesExist(t *testing.T) {
	testenv.Tool(t, "apt-cache", "apt")
	args := []string{"show", "--no-all-versions"}
	for _, l := range Libraries {
		args = append(args, l.Packages[distro.Apt][0])
	}
	// One call: apt-cache reads the whole index each time.
	out, _ := exec.Command("apt-cache", args...).CombinedOutput()
	for _, l := range Libraries {
		// The preferred name is Debian 12's (this machine); the others are
		// resolved in the Debian 11 and 13 containers.
		pkg := l.Packages[distro.Apt][0]
		if !strings.Contains(string(out), "\nPackage: "+pkg+"\n") && !strings.HasPrefix(string(out), "Package: "+pkg+"\n") {
			t.Errorf("%s: apt package %s is not in Debian's index (apt-get update first)", l.Name, pkg)
		}
		for _, f := range []distro.Family{distro.Dnf, distro.Yum, distro.Apk} {
			if len(l.Packages[f]) == 0 {
				t.Errorf("%s: no %s package", l.Name, f)
			}
		}
	}
	for probe, want := range map[string]string{"-lmaxminddb": "maxminddb", "maxminddb.h": "maxminddb", "<security/pam_appl.h>": "pam",
		"-lluajit-5.1": "luajit", "-lpcre2-8": "pcre2", "-lcrypto": "openssl"} {
		if l, ok := LibraryFor(probe); !ok || l.Name != want {
			t.Errorf("LibraryFor(%q) = %q, %v; want %q", probe, l.Name, ok, want)
		}
	}
	if _, ok := LibraryFor("-lnosuchlib"); ok {
		t.Error("an unknown library was found")
	}
}

// TestResolveAgainstIndex: the first installed candidate wins, else the
// first the index has; none is a *NotInIndex naming every name searched.
// The recording runner answers as Debian 11's apt does for LuaJIT (the
// container tests ask the real indexes).
func TestResolveAgainstIndex(t *testing.T) {
	t.Parallel()
	deb, _ := distro.Lookup("debian-11")
	index := map[string]bool{"libluajit-5.1-dev": true}
	installed := map[string]bool{}
	var ran []string
	run := func(_ context.Context, argv []string) ([]byte, error) {
		ran = append(ran, strings.Join(argv, " "))
		switch argv[0] {
		case "dpkg-query":
			if installed[argv[len(argv)-1]] {
				return []byte("install ok installed"), nil
			}
			return nil, errors.New("exit status 1")
		case "apt-get":
			if argv[len(argv)-1] == "-q" || index[argv[len(argv)-1]] { // update, or a package the index has
				return nil, nil
			}
			return []byte("E: Unable to locate package " + argv[len(argv)-1]), errors.New("exit status 100")
		}
		return nil, errors.New("unexpected " + argv[0])
	}
	in := &Installer{Distro: deb, Run: run, Log: io.Discard}
	lua, _ := LibraryFor("-lluajit-5.1")
	got, err := in.Resolve(context.Background(), lua.Packages[distro.Apt])
	if err != nil || got != "libluajit-5.1-dev" {
		t.Fatalf("Resolve = %q, %v; want libluajit-5.1-dev", got, err)
	}
	if n := strings.Count(strings.Join(ran, "\n"), " update "); n != 1 {
		t.Errorf("apt-get update ran %d times, want once:\n%s", n, strings.Join(ran, "\n"))
	}
	installed["libluajit2-5.1-dev"] = true
	if got, _ := in.Resolve(context.Background(), lua.Packages[distro.Apt]); got != "libluajit2-5.1-dev" {
		t.Errorf("an installed candidate was not preferred: %q", got)
	}
	_, err = in.Resolve(context.Background(), []string{"libnosuch-dev", "libnosuch2-dev"})
	var nf *NotInIndex
	if !errors.As(err, &nf) {
		t.Fatalf("Resolve of unknown names: %v", err)
	}
	for _, want := range []string{"libnosuch-dev", "libnosuch2-dev", "debian-11", "apt-get install -s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestSwitchLibrary(t *testing.T) {
	t.Parallel()
	for sw, want := range map[string]string{"LIBXSLT": "libxslt1-dev", "USE_GEOIP": "libgeoip-dev", "LIBGD": "libgd-dev", "PERL": "libperl-dev", "LIBATOMIC": "libatomic-ops-dev"} {
		l, ok := SwitchLibrary(sw)
		if !ok || l.Packages[distro.Apt][0] != want {
			t.Errorf("SwitchLibrary(%s) = %v, %v; want %s", sw, l.Packages[distro.Apt], ok, want)
		}
	}
	if _, ok := SwitchLibrary("NOSUCH"); ok {
		t.Error("an unknown switch was found")
	}
}
