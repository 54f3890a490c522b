package distro

import (
	"strings"
	"testing"
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
