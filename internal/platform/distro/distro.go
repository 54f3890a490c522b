// Package distro is the table of Linux distributions modules are built
// for: the container image a build job runs in, its package manager, and
// the names of the packages a module build needs there.
package distro

import (
	"bufio"
	"fmt"
	"sort"
	"strings"
)

// Family is a package manager family.
type Family string

// The package manager families a build container can have.
const (
	Apt Family = "apt"
	Dnf Family = "dnf"
	Yum Family = "yum"
	Apk Family = "apk"
)

// ParseFamily accepts apt, dnf, yum or apk.
func ParseFamily(s string) (Family, error) {
	switch f := Family(s); f {
	case Apt, Dnf, Yum, Apk:
		return f, nil
	}
	return "", fmt.Errorf("unknown package family %q (want apt, dnf, yum or apk)", s)
}

// Packages names what a module build installs. PCRE is the legacy PCRE
// library, needed by nginx older than 1.21.5, which cannot use PCRE2;
// empty where the distribution no longer ships it.
type Packages struct {
	CC      []string `json:"cc"`
	Make    string   `json:"make"`
	PCRE2   string   `json:"pcre2"`
	PCRE    string   `json:"pcre,omitempty"`
	Zlib    string   `json:"zlib"`
	OpenSSL string   `json:"openssl"`
}

// Distro is one build target.
type Distro struct {
	Name     string   `json:"name"`
	Image    string   `json:"image"`
	Family   Family   `json:"family"`
	Packages Packages `json:"packages"`
	// Packaged is the nginx version the distribution's own nginx package
	// ships (upstream version, no distro revision): what its operators
	// run. Empty when unknown or when the distribution moves its nginx to
	// new upstream versions within a release (Moving).
	Packaged string `json:"packaged,omitempty"`
	// ABI is the virtual package the distribution's nginx provides for
	// modules built against exactly it (Debian's nginx-abi-1.22.1-7),
	// "" when it provides none or it is unknown.
	ABI string `json:"abi,omitempty"`
	// Like, for an image whose nginx is the target (the official nginx
	// images, a company's base image), is the path of that nginx in the
	// image: the distro's cells build like it (build --like), only for
	// its version (Packaged), and their assets carry this distro's name.
	Like string `json:"like,omitempty"`
	// Moving says the distribution updates its nginx package to new
	// upstream versions during a release's life, so no fixed version can
	// stand for it: the config names the version to build.
	Moving bool `json:"-"`
	// Codename is the release's codename (bookworm), which apt source
	// lines may name instead of Name.
	Codename string `json:"-"`
}

var families = map[Family]Packages{
	Apt: {CC: []string{"gcc", "libc6-dev"}, Make: "make", PCRE2: "libpcre2-dev", PCRE: "libpcre3-dev", Zlib: "zlib1g-dev", OpenSSL: "libssl-dev"},
	Dnf: {CC: []string{"gcc"}, Make: "make", PCRE2: "pcre2-devel", PCRE: "pcre-devel", Zlib: "zlib-devel", OpenSSL: "openssl-devel"},
	Yum: {CC: []string{"gcc"}, Make: "make", PCRE2: "pcre2-devel", PCRE: "pcre-devel", Zlib: "zlib-devel", OpenSSL: "openssl-devel"},
	Apk: {CC: []string{"gcc", "musl-dev"}, Make: "make", PCRE2: "pcre2-dev", PCRE: "pcre-dev", Zlib: "zlib-dev", OpenSSL: "openssl-dev"},
}

func def(name, image string, f Family, tweak func(*Packages)) Distro {
	p := families[f]
	p.CC = append([]string(nil), p.CC...)
	if tweak != nil {
		tweak(&p)
	}
	return Distro{Name: name, Image: image, Family: f, Packages: p}
}

// noPCRE1 is for distributions that dropped the legacy PCRE library.
func noPCRE1(p *Packages) { p.PCRE = "" }

// ships records the nginx version a release's own package carries for
// the release's whole life (Debian, Ubuntu and RHEL backport fixes into
// it rather than move to new upstream versions).
func ships(v string, d Distro) Distro { d.Packaged = v; return d }

// abi records the virtual package its nginx provides to modules (checked
// for debian-12 by a test against the apt index).
func abi(name string, d Distro) Distro { d.ABI = name; return d }

// codename records a release's codename.
func codename(c string, d Distro) Distro { d.Codename = c; return d }

// moving marks a distribution whose nginx package moves to new upstream
// versions within a release (Fedora, Alpine, Amazon Linux): a table
// entry would go stale between releases of this tool.
func moving(d Distro) Distro { d.Moving = true; return d }

// builtin is the table of distributions nginx-modbuild knows. Keep it to
// releases that are supported upstream; custom entries cover the rest.
//
// What is proven of each row: debian-11, debian-12 and debian-13 build
// and load in bare containers of their own images, with their own package
// indexes and nginx packages (internal/testing/distrotest, the act container
// workflow). The Ubuntu rows share Debian's package names, resolved
// against the release's own index when a cell runs; the rpm and apk rows
// (and the library candidates of internal/cell/sysdeps for dnf, yum and apk)
// are the distributions' usual names, untested here: no rpm or apk
// archive is reachable from this project's CI.
//
// The packaged nginx versions: Debian's are checked against Debian's
// source indexes by a test (bullseye, bookworm, trixie); Ubuntu's are
// those of focal, jammy and noble (nginx 1.18.0, 1.18.0, 1.24.0); RHEL 8
// and 9 (and their rebuilds) ship nginx 1.14.1 and 1.20.1 as the default
// (non-modular) package.
var builtin = []Distro{
	codename("bullseye", ships("1.18.0", def("debian-11", "debian:11", Apt, nil))),
	codename("bookworm", abi("nginx-abi-1.22.1-7", ships("1.22.1", def("debian-12", "debian:12", Apt, nil)))),
	codename("trixie", ships("1.26.3", def("debian-13", "debian:13", Apt, noPCRE1))),
	codename("focal", ships("1.18.0", def("ubuntu-20.04", "ubuntu:20.04", Apt, nil))),
	codename("jammy", ships("1.18.0", def("ubuntu-22.04", "ubuntu:22.04", Apt, nil))),
	codename("noble", ships("1.24.0", def("ubuntu-24.04", "ubuntu:24.04", Apt, noPCRE1))),
	ships("1.14.1", def("rocky-8", "rockylinux/rockylinux:8", Dnf, nil)),
	ships("1.20.1", def("rocky-9", "rockylinux/rockylinux:9", Dnf, nil)),
	ships("1.14.1", def("almalinux-8", "almalinux:8", Dnf, nil)),
	ships("1.20.1", def("almalinux-9", "almalinux:9", Dnf, nil)),
	moving(def("amazonlinux-2023", "amazonlinux:2023", Dnf, nil)),
	moving(def("fedora-44", "fedora:44", Dnf, noPCRE1)),
	moving(def("fedora-45", "fedora:45", Dnf, noPCRE1)),
	moving(def("alpine-3.22", "alpine:3.22", Apk, nil)),
	moving(def("alpine-3.23", "alpine:3.23", Apk, nil)),
	moving(def("alpine-3.24", "alpine:3.24", Apk, nil)),
}

// Builtin returns a copy of the built-in table.
func Builtin() []Distro {
	return append([]Distro(nil), builtin...)
}

// Lookup finds a built-in distribution by name.
func Lookup(name string) (Distro, bool) {
	for _, d := range builtin {
		if d.Name == name {
			return d, true
		}
	}
	return Distro{}, false
}

// Custom makes an entry for a distribution not in the table, with the
// package names of its family.
func Custom(name, image string, f Family) Distro {
	return def(name, image, f, nil)
}

// Names lists the built-in names, sorted, for error messages.
func Names() string {
	var ns []string
	for _, d := range builtin {
		ns = append(ns, d.Name)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// All is every package a build needs, for a given need of legacy PCRE.
func (p Packages) All(legacyPCRE bool) []string {
	out := append([]string(nil), p.CC...)
	pcre := p.PCRE2
	if legacyPCRE && p.PCRE != "" {
		pcre = p.PCRE
	}
	return append(out, p.Make, pcre, p.Zlib, p.OpenSSL)
}

// FromOSRelease parses /etc/os-release text into the distro it names: a
// built-in entry when there is one, otherwise a custom one whose family is
// guessed from ID and ID_LIKE.
func FromOSRelease(text string) (Distro, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	id, ver := kv["ID"], kv["VERSION_ID"]
	switch id {
	case "rocky", "almalinux", "fedora":
		ver, _, _ = strings.Cut(ver, ".")
	case "alpine":
		if p := strings.Split(ver, "."); len(p) >= 2 {
			ver = p[0] + "." + p[1]
		}
	}
	name := id + "-" + ver
	if d, ok := Lookup(name); ok {
		return d, nil
	}
	for _, like := range append([]string{id}, strings.Fields(kv["ID_LIKE"])...) {
		switch like {
		case "debian", "ubuntu":
			return Custom(name, "", Apt), nil
		case "fedora", "rhel", "centos":
			return Custom(name, "", Dnf), nil
		case "alpine":
			return Custom(name, "", Apk), nil
		}
	}
	return Distro{}, fmt.Errorf("unknown distribution %q in /etc/os-release (ID=%s, not one of the built-in distros or like debian, ubuntu, rhel, fedora, centos or alpine)", name, id)
}
