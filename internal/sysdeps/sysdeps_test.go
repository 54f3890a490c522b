package sysdeps

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testenv"
)

func TestOSRelease(t *testing.T) {
	t.Parallel()
	tests := []struct{ text, name string }{
		{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n", "debian-12"},
		{"ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n", "ubuntu-24.04"},
		{"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n", "rocky-9"},
		{"ID=alpine\nVERSION_ID=3.22.1\n", "alpine-3.22"},
		{"ID=\"amzn\"\nVERSION_ID=\"2023\"\nID_LIKE=\"fedora\"\n", "amzn-2023"},
		{"ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"22\"\n", "linuxmint-22"},
	}
	for _, tt := range tests {
		d, err := OSRelease(tt.text)
		if err != nil || d.Name != tt.name {
			t.Errorf("OSRelease(%q) = %s, %v; want %s", tt.text, d.Name, err, tt.name)
		}
	}
	if _, err := OSRelease("ID=plan9\n"); err == nil {
		t.Error("an unknown distribution was accepted")
	}
}

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
	if err := Install(context.Background(), deb, []string{"gcc", "make", "zlib1g-dev"}, run, &log); err != nil {
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
	Install(context.Background(), deb, []string{"gcc", "make", "zlib1g-dev"}, run, &log)
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
	d, err := OSRelease(string(b))
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
	if err := Install(context.Background(), d, Packages(d, true, nil), run, &log); err != nil {
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
		args = append(args, l.Packages[distro.Apt])
	}
	// One call: apt-cache reads the whole index each time.
	out, _ := exec.Command("apt-cache", args...).CombinedOutput()
	for _, l := range Libraries {
		pkg := l.Packages[distro.Apt]
		if !strings.Contains(string(out), "\nPackage: "+pkg+"\n") && !strings.HasPrefix(string(out), "Package: "+pkg+"\n") {
			t.Errorf("%s: apt package %s is not in Debian's index (apt-get update first)", l.Name, pkg)
		}
		for _, f := range []distro.Family{distro.Dnf, distro.Yum, distro.Apk} {
			if l.Packages[f] == "" {
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
