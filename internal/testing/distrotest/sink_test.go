package distrotest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestCargoModuleSinksNoOther is issue 34's item 1 (and item 4's cargo
// case, and item 2's missing command) where it runs: nginx-acme as its
// maintainer publishes it, beside hello-world and vts in one config, no
// packages declared, in a bare Debian 12. Its config stops on "cargo
// binary cargo is not found": the cell finds cargo in Debian 12's
// Contents index, installs it and configures again. acme's config puts its cargo-built library into
// ngx_module_deps, which nginx adds to ADDON_DEPS, the prerequisites of
// every addon object: configured together, cargo's failure (no registry
// here, Rust 1.63 against acme's 1.81) left no module compiled. The cell
// configures acme apart, the other two build and load into Debian's
// nginx, and acme's reason is cargo's own error line.
func TestCargoModuleSinksNoOther(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	src, work := t.TempDir(), t.TempDir()
	copyHello(t, filepath.Join(src, "hello-world"))
	placeUpstream(t, src, map[string]string{"acme": "nginx-acme", "vts": "nginx-module-vts"})
	writeConfig(t, filepath.Join(work, "cfg.yml"), []module{{name: "acme"}, {name: "hello-world"}, {name: "vts"}},
		`location = /t { hello_world "hi"; }`, "/t", "")
	c := toolContainer(t, "debian:12", mirror, src, work)
	out, err := build(c, "cfg.yml", "1.22.1", "debian-12", "dist")
	if err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("build: %v, want exit 1 (acme fails)\n%s", err, testenv.Tail(out, 40))
	}
	m := cellManifest(t, filepath.Join(work, "dist"))
	built := builtNames(m)
	if want := []string{"ngx_http_hello_world_module", "ngx_http_vhost_traffic_status_module"}; !slices.Equal(built, want) {
		t.Errorf("built %v, want %v\n%s", built, want, testenv.Tail(out, 60))
	}
	var reason string
	for _, f := range m.Cells[0].Failures {
		if strings.Contains(f.Module, "acme") {
			reason = f.Reason()
		} else {
			t.Errorf("%s failed beside acme: %s", f.Module, f.Reason())
		}
	}
	t.Logf("acme: %s", reason)
	if first, _, _ := strings.Cut(reason, "\n"); !strings.Contains(first, "error") || strings.Contains(first, "-o ") || strings.Contains(first, ".c") {
		t.Errorf("acme's reason %q: want cargo's own error line first\n%s", reason, testenv.Tail(out, 60))
	}
	var cargo bool
	for _, f := range m.Cells[0].Found {
		cargo = cargo || (f.Missing == "the command cargo" && f.Package == "cargo")
	}
	if !cargo {
		t.Errorf("found %+v: want the command cargo from the package cargo", m.Cells[0].Found)
	}
	var changes []string
	for _, g := range m.Cells[0].GlobalFlags {
		changes = append(changes, g.Module+": "+g.Change)
	}
	if !strings.Contains(strings.Join(changes, "\n"), "libnginx_acme.a (built by make)") {
		t.Errorf("global changes recorded: %q, want acme's ADDON_DEPS += …libnginx_acme.a", changes)
	}
	if !strings.Contains(out, "configured apart from") {
		t.Errorf("the log does not say acme is configured apart:\n%s", testenv.Tail(out, 60))
	}
	res, answers := loadInto(t, "debian:12", filepath.Join(work, "dist"), m, nil,
		`location = /hello { hello_world "beside acme"; }`, "/hello")
	if !strings.Contains(answers["/hello"], "beside acme") {
		t.Errorf("Debian 12's nginx with hello-world and vts: nginx -t %s; answers %v", res, answers)
	}
}
