package distrotest

import (
	"context"
	"os/exec"
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
// with --install-deps. Each compile stops on what the container
// lacks; the cell looks it up in the release's Contents index, installs the
// package it names (the ones the hand build declared:
// libldap-dev, g++, libopentracing-dev), records it in the manifest and
// makes again: both build, and their packages, published signed,
// apt-install into a fresh container with only the release's nginx,
// bringing the runtime libraries the manifest names, and nginx -t
// passes with both loaded.
func TestFileIndexFindsWhatModulesLack(t *testing.T) {
	// Debian 13 is not in the list: the archive reachable here serves
	// trixie's Contents-amd64.gz and Contents-all.gz at other sizes than
	// its InRelease lists (12698511 != 12699567 on 2026-12-02, "Mirror
	// sync in progress?"), and apt refuses them, as it must.
	for _, r := range []struct{ image, distro, nginx string }{
		{"debian:12", "debian-12", "1.22.1"},
	} {
		t.Run(r.distro, func(t *testing.T) { fileIndexCell(t, r.image, r.distro, r.nginx) })
	}
}

func fileIndexCell(t *testing.T, image, distro, nginx string) {
	mirror := testenv.Mirror(t, "nginx-"+nginx+".tar.gz")
	src, work := t.TempDir(), t.TempDir()
	placeUpstream(t, src, map[string]string{"auth-ldap": "nginx-auth-ldap", "opentracing": "nginx-opentracing"})
	writeConfig(t, filepath.Join(work, "cfg.yml"), []module{{name: "auth-ldap"}, {name: "opentracing/opentracing"}},
		`location = /t { return 200 "up"; }`, "/t", "")
	c := toolContainer(t, image, mirror, src, work)
	out, err := build(c, "cfg.yml", nginx, distro, "dist", "--packages")
	if err != nil {
		t.Fatalf("build: %v\n%s", err, testenv.Tail(out, 60))
	}
	m := cellManifest(t, filepath.Join(work, "dist"))
	var built []string
	for _, e := range m.Entries {
		if e.Kind == "" {
			built = append(built, e.Module)
		}
	}
	slices.Sort(built)
	if want := []string{"ngx_http_auth_ldap_module", "ngx_http_opentracing_module"}; !slices.Equal(built, want) {
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

	// The packages, published signed, apt-installed into a bare container
	// of the release: their Depends bring the runtime libraries.
	var pkgs []string
	debs, _ := filepath.Glob(filepath.Join(work, "dist", "*.deb"))
	for _, d := range debs {
		name, err := exec.Command("dpkg-deb", "-f", d, "Package").Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s Package: %v", d, err)
		}
		pkgs = append(pkgs, strings.TrimSpace(string(name)))
	}
	if len(pkgs) != 2 {
		t.Fatalf("packages %v (from %v), want two", pkgs, debs)
	}
	ctx := context.Background()
	h, out, err := aptInstallPublished(t, image, distro, filepath.Join(work, "dist"), pkgs...)
	if err != nil {
		t.Fatalf("apt-get install %v: %v\n%s", pkgs, err, testenv.Tail(out, 30))
	}
	for _, p := range runtime {
		if st := h.Shell(ctx, "dpkg-query -W -f='${db:Status-Abbrev}' "+p+" 2>/dev/null || true"); !strings.HasPrefix(st, "ii") {
			t.Errorf("runtime package %s not installed with the modules' packages: %q", p, st)
		}
	}
	if res, err := h.Exec(ctx, nil, "nginx", "-t"); err != nil {
		t.Errorf("%s's nginx with %v installed from the repository: nginx -t: %v\n%s", distro, pkgs, err, res)
	}
}
