package sysdeps

import (
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// Library is one external library module configs probe for: the -l
// names and headers that identify it, the nginx configure switch that
// stands for it when a module asks nginx to link it (ngx_module_libs),
// and its development package in each package family.
type Library struct {
	Name    string
	Libs    []string // without -l
	Headers []string // as in #include <...>
	// Switch is nginx's name for a library its own configure probes for
	// (LIBXSLT, GEOIP, ...): a module's ngx_module_libs="LIBXSLT" turns
	// USE_LIBXSLT on, and configure then fails without the library.
	Switch string
	// Packages are the candidate package names per family, preferred
	// first. Releases of one distribution name a library differently
	// (Debian 11 libluajit-5.1-dev, Debian 12 libluajit2-5.1-dev): the
	// distribution's own package index decides which one is installed
	// (Installer.Resolve).
	Packages map[distro.Family][]string
}

func pkgs(apt, rpm, apk string) map[distro.Family][]string {
	return map[distro.Family][]string{distro.Apt: strings.Fields(apt), distro.Dnf: strings.Fields(rpm),
		distro.Yum: strings.Fields(rpm), distro.Apk: strings.Fields(apk)}
}

// Libraries is the maintained table: the libraries of the modules in the
// test corpus, the ones third-party modules commonly probe with nginx's
// auto/feature, and the ones nginx's configure probes for a module's
// ngx_module_libs switch. TestLibraryPackagesExist checks the apt names
// against Debian's package index; the container tests resolve them in
// Debian 11, 12 and 13. The rpm and apk names are the distributions'
// usual names, not checked here (no rpm or apk index is reachable).
var Libraries = []Library{
	{"maxminddb", []string{"maxminddb"}, []string{"maxminddb.h"}, "", pkgs("libmaxminddb-dev", "libmaxminddb-devel", "libmaxminddb-dev")},
	{"brotli", []string{"brotlienc", "brotlidec", "brotlicommon"}, []string{"brotli/encode.h", "brotli/decode.h"}, "", pkgs("libbrotli-dev", "brotli-devel", "brotli-dev")},
	// OpenResty's LuaJIT fork is what Debian 12 and 13 build lua with;
	// Debian 11 has only the original.
	{"luajit", []string{"luajit-5.1"}, []string{"luajit.h", "lua.h", "lauxlib.h"}, "", pkgs("libluajit2-5.1-dev libluajit-5.1-dev", "luajit-devel", "luajit-dev luajit2-dev")},
	{"pam", []string{"pam"}, []string{"security/pam_appl.h"}, "", pkgs("libpam0g-dev", "pam-devel", "linux-pam-dev")},
	{"modsecurity", []string{"modsecurity"}, []string{"modsecurity/modsecurity.h"}, "", pkgs("libmodsecurity-dev", "libmodsecurity-devel", "modsecurity-dev")},
	{"libxml2", []string{"xml2"}, []string{"libxml/parser.h", "libxml/tree.h"}, "", pkgs("libxml2-dev", "libxml2-devel", "libxml2-dev")},
	// nginx's LIBXSLT probe needs libxml2 too; each family's libxslt
	// development package depends on libxml2's.
	{"libxslt", []string{"xslt", "exslt"}, []string{"libxslt/xslt.h", "libexslt/exslt.h"}, "LIBXSLT", pkgs("libxslt1-dev", "libxslt-devel", "libxslt-dev")},
	{"expat", []string{"expat"}, []string{"expat.h"}, "", pkgs("libexpat1-dev", "expat-devel", "expat-dev")},
	{"hiredis", []string{"hiredis"}, []string{"hiredis/hiredis.h"}, "", pkgs("libhiredis-dev", "hiredis-devel", "hiredis-dev")},
	{"zstd", []string{"zstd"}, []string{"zstd.h"}, "", pkgs("libzstd-dev", "libzstd-devel", "zstd-dev")},
	{"GeoIP", []string{"GeoIP"}, []string{"GeoIP.h"}, "GEOIP", pkgs("libgeoip-dev", "GeoIP-devel", "geoip-dev")},
	{"gd", []string{"gd"}, []string{"gd.h"}, "LIBGD", pkgs("libgd-dev", "gd-devel", "gd-dev")},
	{"perl", nil, []string{"EXTERN.h", "perl.h"}, "PERL", pkgs("libperl-dev", "perl-devel perl-ExtUtils-Embed", "perl-dev")},
	{"libatomic_ops", []string{"atomic_ops"}, []string{"atomic_ops.h"}, "LIBATOMIC", pkgs("libatomic-ops-dev", "libatomic_ops-devel", "libatomic_ops-dev")},
	{"uuid", []string{"uuid"}, []string{"uuid/uuid.h"}, "", pkgs("uuid-dev", "libuuid-devel", "util-linux-dev")},
	{"jansson", []string{"jansson"}, []string{"jansson.h"}, "", pkgs("libjansson-dev", "jansson-devel", "jansson-dev")},
	{"yajl", []string{"yajl"}, []string{"yajl/yajl_parse.h", "yajl/yajl_tree.h"}, "", pkgs("libyajl-dev", "yajl-devel", "yajl-dev")},
	{"curl", []string{"curl"}, []string{"curl/curl.h"}, "", pkgs("libcurl4-openssl-dev", "libcurl-devel", "curl-dev")},
	{"lmdb", []string{"lmdb"}, []string{"lmdb.h"}, "", pkgs("liblmdb-dev", "lmdb-devel", "lmdb-dev")},
	{"sqlite3", []string{"sqlite3"}, []string{"sqlite3.h"}, "", pkgs("libsqlite3-dev", "sqlite-devel", "sqlite-dev")},
	{"pcre", []string{"pcre"}, []string{"pcre.h"}, "", pkgs("libpcre3-dev", "pcre-devel", "pcre-dev")},
	{"pcre2", []string{"pcre2-8"}, []string{"pcre2.h"}, "PCRE", pkgs("libpcre2-dev", "pcre2-devel", "pcre2-dev")},
	{"openssl", []string{"ssl", "crypto"}, []string{"openssl/ssl.h", "openssl/evp.h"}, "OPENSSL", pkgs("libssl-dev", "openssl-devel", "openssl-dev")},
	{"zlib", []string{"z"}, []string{"zlib.h"}, "ZLIB", pkgs("zlib1g-dev", "zlib-devel", "zlib-dev")},
}

// LibraryFor finds the table entry for a link flag (-lfoo or foo) or a
// header (foo.h or <foo.h>).
func LibraryFor(probe string) (Library, bool) {
	probe = strings.Trim(probe, "<>\"")
	isHeader := strings.HasSuffix(probe, ".h")
	name := strings.TrimPrefix(probe, "-l")
	for _, l := range Libraries {
		list := l.Libs
		if isHeader {
			list = l.Headers
		}
		for _, x := range list {
			if x == name {
				return l, true
			}
		}
	}
	return Library{}, false
}

// SwitchLibrary finds the library behind one of nginx's configure
// switches as ngx_module_libs names it (LIBXSLT) or as configure records
// it (USE_LIBXSLT).
func SwitchLibrary(sw string) (Library, bool) {
	sw = strings.TrimPrefix(sw, "USE_")
	for _, l := range Libraries {
		if l.Switch != "" && l.Switch == sw {
			return l, true
		}
	}
	return Library{}, false
}
