package distrotest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestFileIndexFindsWhatModulesLack is issue 34's item 2 where it runs:
// nginx-auth-ldap (includes ldap.h, links -lldap -llber; its config
// probes for nothing) and nginx-opentracing (C++ sources, includes
// <opentracing/...>, links -lopentracing) as their maintainers publish
// them, in one config with no packages declared, in a bare Debian 12
// with --install-deps. Each compile stops on what the container lacks;
// the cell looks it up in Debian 12's Contents index, installs the
// package it names (the ones the hand build declared:
// libldap-dev, g++, libopentracing-dev), records it in the manifest and
// makes again: both build, and load into Debian's nginx in a fresh
// container with only nginx and the runtime packages the manifest names.
func TestFileIndexFindsWhatModulesLack(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	src, work := t.TempDir(), t.TempDir()
	placeUpstream(t, src, map[string]string{"auth-ldap": "nginx-auth-ldap", "opentracing": "nginx-opentracing"})
	writeConfig(t, filepath.Join(work, "cfg.yml"), []module{{name: "auth-ldap"}, {name: "opentracing/opentracing"}},
		`location = /t { return 200 "up"; }`, "/t", "")
	c := toolContainer(t, "debian:12", mirror, src, work)
	out, err := build(c, "cfg.yml", "1.22.1", "debian-12", "dist")
	if err != nil {
		t.Fatalf("build: %v\n%s", err, testenv.Tail(out, 60))
	}
	m := cellManifest(t, filepath.Join(work, "dist"))
	if built, want := builtNames(m), []string{"ngx_http_auth_ldap_module", "ngx_http_opentracing_module"}; !slices.Equal(built, want) {
		t.Fatalf("built %v, want %v\n%s", built, want, testenv.Tail(out, 60))
	}
	found := map[string]string{}
	for _, f := range m.Cells[0].Found {
		found[f.Missing] = f.Package
		t.Logf("%s lacked %s: %s (also %v; %s)", f.Module, f.Missing, f.Package, f.Other, f.Searched)
	}
	if found["<ldap.h>"] != "libldap-dev" || found["the command g++"] != "g++" {
		t.Errorf("found %v: want <ldap.h> from libldap-dev and g++ for the C++ sources", found)
	}
	var ot bool
	for miss, pkg := range found {
		ot = ot || (strings.Contains(miss, "opentracing") && pkg == "libopentracing-dev")
	}
	if !ot {
		t.Errorf("found %v: want opentracing's header or -lopentracing from libopentracing-dev", found)
	}
	for _, want := range []string{"Contents index", "installing it"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not say %q:\n%s", want, testenv.Tail(out, 60))
		}
	}
	var runtime []string
	for _, e := range m.Entries {
		for _, p := range e.Runtime {
			if !slices.Contains(runtime, p) {
				runtime = append(runtime, p)
			}
		}
	}
	t.Logf("runtime packages: %v", runtime)
	res, answers := loadInto(t, "debian:12", filepath.Join(work, "dist"), m, runtime, `location = /up { return 200 "loaded"; }`, "/up")
	if !strings.Contains(answers["/up"], "loaded") {
		t.Errorf("Debian 12's nginx with both modules and %v: nginx -t %s; answers %v", runtime, res, answers)
	}
}
