package cell

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestOneNamePerModule is issue 33 item 5's "one name per module": a
// module given as path "." (its checkout's directory name is neither
// that nor its name) whose tests fail, and one whose config declares no
// module, are named in every record and log line by their configs'
// ngx_addon_name, the name the built .so's entry carries: not ".", not
// the directory.
func TestOneNamePerModule(t *testing.T) {
	t.Parallel()
	mirror := prerequisites(t)
	checkout := filepath.Join(t.TempDir(), "my-checkout")
	testenv.CopyTree(t, helloWorld().Dir, checkout, nil)
	hello := Module{ID: ".", Dir: checkout, Test: &config.Test{Run: "echo one test failed; exit 1", Required: true}}
	quietDir := filepath.Join(t.TempDir(), "quiet-checkout")
	os.MkdirAll(quietDir, 0o755)
	os.WriteFile(filepath.Join(quietDir, "config"), []byte("ngx_addon_name=ngx_http_quiet_module\n"), 0o644)
	quiet := Module{ID: "../quiet", Dir: quietDir}

	o := options(t, mirror, "1.26.3", hello, quiet)
	o.Smoke, o.Tests = &Smoke{}, &Tests{Env: os.Environ()}
	var log strings.Builder
	o.Log = &Log{W: &log}
	res, _ := Run(context.Background(), o)

	want := map[string]string{".": "ngx_http_hello_world_module", "../quiet": "ngx_http_quiet_module"}
	var names []string
	for _, e := range res.Manifest.Entries {
		names = append(names, e.Source+" "+e.Module)
	}
	c := res.Manifest.Cells[0]
	for _, f := range c.Failures {
		names = append(names, f.Source+" "+f.Module)
	}
	for _, x := range c.Tests {
		names = append(names, x.Source+" "+x.Module)
	}
	if len(res.Manifest.Entries) != 1 || len(c.Failures) != 2 || len(c.Tests) != 1 {
		t.Fatalf("want 1 entry, 2 failures (quiet's configure, hello's tests), 1 suite; got %q\n%s", names, testenv.Tail(log.String(), 30))
	}
	for _, n := range names {
		source, name, _ := strings.Cut(n, " ")
		if want[source] != name {
			t.Errorf("%s is named %q, want %q", source, name, want[source])
		}
	}
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "my-checkout") && !strings.Contains(line, checkout) ||
			strings.Contains(line, "quiet-checkout") && !strings.Contains(line, quietDir) ||
			strings.HasPrefix(strings.TrimSpace(line), ".:") {
			t.Errorf("log line names a module by its directory or path: %q", line)
		}
	}
}
