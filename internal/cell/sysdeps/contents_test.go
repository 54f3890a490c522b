package sysdeps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// TestContentsMatches reads lines of Debian 12's real Contents-amd64
// (testdata: every line naming ldap.h, gssapi.h, libldap, libjwt, jwt.h,
// cargo or g++, decoys included: mailutils/ldap.h, heimdal's gssapi.h,
// icecc's g++, libjwt.so.0) and finds the packages a build stopped
// without, as apt-file search would answer and the hand build
// installed.
func TestContentsMatches(t *testing.T) {
	contents, err := os.ReadFile("testdata/Contents-amd64.bookworm.excerpt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		w    Wanted
		want []string
	}{
		{Wanted{Header, "ldap.h"}, []string{"libldap-dev"}},
		{Wanted{Header, "gssapi/gssapi.h"}, []string{"libkrb5-dev"}},
		{Wanted{Header, "gssapi.h"}, []string{"libkrb5-dev"}},
		{Wanted{Header, "jwt.h"}, []string{"libjwt-dev", "libjwt-gnutls-dev"}},
		{Wanted{Lib, "ldap"}, []string{"libldap-dev"}},
		{Wanted{Lib, "jwt"}, []string{"libjwt-dev"}},
		{Wanted{Command, "cargo"}, []string{"cargo", "cargo-web"}},
		{Wanted{Command, "g++"}, []string{"g++"}},
		{Wanted{Header, "nosuch.h"}, nil},
	} {
		if got := contentsMatches(contents, c.w); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.w, got, c.want)
		}
	}
}

// TestFileIndexKeepsWhatAptVerified: apt-get update fails when one
// Contents file is refused (a mirror mid-sync, as Debian 13's was here);
// the files apt did verify are still searched, and with none the error
// is apt's own first line. The apt commands are faked; the config file
// goes to a temporary path, never /etc/apt.
func TestFileIndexKeepsWhatAptVerified(t *testing.T) {
	tmp := t.TempDir()
	contentsConfPath = filepath.Join(tmp, "50nginx-modbuild-contents")
	defer func() { contentsConfPath = "/etc/apt/apt.conf.d/50nginx-modbuild-contents" }()
	lists := filepath.Join(tmp, "lists")
	os.MkdirAll(lists, 0o755)
	kept := filepath.Join(lists, "deb.debian.org_debian_dists_trixie_main_Contents-amd64")
	os.WriteFile(kept+".lz4", []byte("x"), 0o644)
	refused := "E: Failed to fetch http://deb.debian.org/debian/dists/trixie/main/Contents-all.gz  File has unexpected size (38208826 != 38216995). Mirror sync in progress?"
	for _, c := range []struct {
		targets []string
		files   int
		err     string
	}{
		{[]string{kept, filepath.Join(lists, "deb.debian.org_debian_dists_trixie_main_Contents-all")}, 1, ""},
		{[]string{filepath.Join(lists, "deb.debian.org_debian_dists_trixie_main_Contents-all")}, 0, refused},
	} {
		x := &FileIndex{Distro: distro.Distro{Name: "debian-13", Family: distro.Apt}, Dir: t.TempDir(),
			Run: func(_ context.Context, argv []string) ([]byte, error) {
				switch argv[len(argv)-2] {
				case "update":
					if _, err := os.Stat(contentsConfPath); err != nil {
						t.Errorf("apt-get update ran without the Contents target declared")
					}
					return []byte("Reading package lists...\n" + refused + "\nE: Some index files failed to download."), errors.New("exit status 100")
				}
				return []byte(strings.Join(c.targets, "\n")), nil
			}}
		err := x.load(context.Background())
		if len(x.files) != c.files || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("targets %v: files %v, err %v; want %d file(s), error %q", c.targets, x.files, err, c.files, c.err)
		}
		if _, err := os.Stat(contentsConfPath); err == nil {
			t.Errorf("the Contents target's config was left in place")
		}
	}
}
