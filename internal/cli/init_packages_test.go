package cli

import (
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestCopyrightHolderOfPublishedModules reads the maintainer from the
// licence files of modules as their maintainers publish them.
func TestCopyrightHolderOfPublishedModules(t *testing.T) {
	for name, want := range map[string]string{
		"nginx-module-vts": "YoungJoo.Kim <vozltx@gmail.com>",
		"nginx-auth-ldap":  "Valery Komarov <komarov@valerka.net>",
		"naxsi":            "",
	} {
		got, from := copyrightHolder(testenv.Upstream(t, name))
		if got != want {
			t.Errorf("%s: maintainer %q (from %q), want %q", name, got, from, want)
		}
	}
}

func TestWebURL(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{
		"git@github.com:openresty/headers-more-nginx-module.git": "https://github.com/openresty/headers-more-nginx-module",
		"https://github.com/vozlt/nginx-module-vts.git":          "https://github.com/vozlt/nginx-module-vts",
		"https://token@github.com/o/r":                           "https://github.com/o/r",
		"ssh://git@gitlab.com/o/r.git":                           "https://gitlab.com/o/r",
		"/srv/git/module":                                        "",
	} {
		if got := webURL(remote); got != want {
			t.Errorf("webURL(%q) = %q, want %q", remote, got, want)
		}
	}
}
