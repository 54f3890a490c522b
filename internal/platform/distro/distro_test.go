package distro

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func TestBuiltinTable(t *testing.T) {
	t.Parallel()
	required := []string{
		"debian-11", "debian-12", "debian-13", "ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04",
		"rocky-8", "rocky-9", "almalinux-8", "almalinux-9", "amazonlinux-2023",
	}
	for _, name := range required {
		if _, ok := Lookup(name); !ok {
			t.Errorf("built-in table lacks %s", name)
		}
	}
	count := map[string]int{}
	seen := map[string]bool{}
	for _, d := range Builtin() {
		if seen[d.Name] {
			t.Errorf("duplicate %s", d.Name)
		}
		seen[d.Name] = true
		count[strings.SplitN(d.Name, "-", 2)[0]]++
		if d.Image == "" || d.Packages.Make == "" || len(d.Packages.CC) == 0 ||
			d.Packages.PCRE2 == "" || d.Packages.Zlib == "" || d.Packages.OpenSSL == "" {
			t.Errorf("%s: incomplete entry %+v", d.Name, d)
		}
		if _, err := ParseFamily(string(d.Family)); err != nil {
			t.Errorf("%s: %v", d.Name, err)
		}
	}
	if count["fedora"] != 2 || count["alpine"] != 3 {
		t.Errorf("want two Fedora and three Alpine releases, have %d and %d", count["fedora"], count["alpine"])
	}
}

func TestPackagesAll(t *testing.T) {
	t.Parallel()
	d, _ := Lookup("debian-12")
	if got := strings.Join(d.Packages.All(false), " "); got != "gcc libc6-dev make libpcre2-dev zlib1g-dev libssl-dev" {
		t.Errorf("debian-12 packages = %s", got)
	}
	if got := strings.Join(d.Packages.All(true), " "); !strings.Contains(got, "libpcre3-dev") {
		t.Errorf("debian-12 legacy packages = %s", got)
	}
	a, _ := Lookup("alpine-3.23")
	if got := strings.Join(a.Packages.All(false), " "); got != "gcc musl-dev make pcre2-dev zlib-dev openssl-dev" {
		t.Errorf("alpine packages = %s", got)
	}
	c := Custom("opensuse-15", "opensuse/leap:15", Yum)
	c.Packages.CC[0] = "clang" // a copy: must not change the family template
	if families[Yum].CC[0] != "gcc" {
		t.Error("Custom shares its package slice with the template")
	}
}

// TestPackagedAgainstDebian checks the table's Debian nginx versions
// against the source indexes apt has fetched (scripts/mirror adds the
// deb-src entries for bullseye, bookworm and trixie): every nginx source
// package of a release and its security suite must carry the table's
// upstream version.
func TestPackagedAgainstDebian(t *testing.T) {
	t.Parallel()
	apt := testenv.Tool(t, "apt-get", "apt")
	helper := "/usr/lib/apt/apt-helper"
	if _, err := os.Stat(helper); err != nil {
		testenv.Missing(t, helper, "apt-get install apt")
	}
	out, err := exec.Command(apt, "indextargets", "--format", "$(CODENAME) $(FILENAME)", "Identifier: Sources").Output()
	if err != nil {
		t.Fatalf("apt-get indextargets: %v", err)
	}
	codenames := map[string]string{"bullseye": "debian-11", "bookworm": "debian-12", "trixie": "debian-13"}
	seen := map[string]map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		code, file, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		code, _, _ = strings.Cut(code, "-") // bookworm-security, bookworm-updates
		name, ok := codenames[code]
		if !ok {
			continue
		}
		data, err := exec.Command(helper, "cat-file", file).Output()
		if err != nil {
			t.Fatalf("apt-helper cat-file %s: %v", file, err)
		}
		for _, v := range nginxVersions(string(data)) {
			if seen[name] == nil {
				seen[name] = map[string]bool{}
			}
			seen[name][v] = true
		}
	}
	for code, name := range codenames {
		if len(seen[name]) == 0 {
			testenv.Missing(t, "Debian "+code+" source index with nginx", "run scripts/mirror, which adds deb-src entries and runs apt-get update")
			continue
		}
		d, _ := Lookup(name)
		for v := range seen[name] {
			if v != d.Packaged {
				t.Errorf("%s: Debian %s's nginx source is %s, the table says %q", name, code, v, d.Packaged)
			}
		}
	}
}

// nginxVersions are the upstream versions of the nginx source packages in
// a Sources index (epoch and Debian revision removed).
func nginxVersions(index string) []string {
	var out []string
	for _, stanza := range strings.Split(index, "\n\n") {
		if !strings.HasPrefix(stanza, "Package: nginx\n") {
			continue
		}
		for _, l := range strings.Split(stanza, "\n") {
			if v, ok := strings.CutPrefix(l, "Version: "); ok {
				if _, after, ok := strings.Cut(v, ":"); ok {
					v = after
				}
				if i := strings.LastIndex(v, "-"); i > 0 {
					v = v[:i]
				}
				out = append(out, v)
			}
		}
	}
	return out
}

func TestPackagedTable(t *testing.T) {
	t.Parallel()
	for _, d := range Builtin() {
		if (d.Packaged == "") == !d.Moving {
			t.Errorf("%s: either a packaged version or moving, not packaged=%q moving=%t", d.Name, d.Packaged, d.Moving)
		}
	}
}

// TestABIAgainstDebian checks debian-12's nginx-abi virtual package
// against what Debian's nginx package provides (the apt index).
func TestABIAgainstDebian(t *testing.T) {
	t.Parallel()
	cache := testenv.Tool(t, "apt-cache", "apt")
	d, _ := Lookup("debian-12")
	out, err := exec.Command(cache, "show", "nginx").Output()
	if err != nil || !strings.Contains(string(out), "Version: "+d.Packaged+"-") {
		testenv.Missing(t, "Debian 12's nginx in the apt index", "apt-get update")
	}
	for _, stanza := range strings.Split(string(out), "\n\n") {
		if !strings.Contains(stanza, "\nVersion: "+d.Packaged+"-") {
			continue
		}
		if !strings.Contains(stanza, d.ABI) {
			t.Errorf("Debian's nginx %s does not provide %s:\n%s", d.Packaged, d.ABI, stanza)
		}
	}
}
