package sysdeps

import (
	"os"
	"slices"
	"testing"
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
