package cell

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/celltest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// vtsHardCoded are vts's files that hard-code Test::Nginx's port 1984
// (upstreams and zone names 127.0.0.1:1984) or its t/servroot (021
// reads t/servroot/logs/access.log), plus 043 beside them. Run by hand,
// one at a time, they pass; with TEST_NGINX_RANDOMIZE (prove -j4 as the
// tool ran every suite before) 021 bails out.
var vtsHardCoded = []string{"t/021.set_by_filter.t", "t/027.upstream_zone_peers.t", "t/028.upstream_resolve.t",
	"t/029.control_upstream_addrs.t", "t/043.variables.t"}

// TestHardCodedPortsAsProve is issue 34's item 7: vts as its maintainer
// publishes it (the upstream corpus), its files that hard-code port 1984
// and t/servroot, built in a cell for nginx 1.26.3 and run by --test with
// no jobs: in the config: the counts are those of a plain prove by hand
// in the module's directory with the same nginx and .so.
func TestHardCodedPortsAsProve(t *testing.T) {
	mirror := prerequisites(t)
	lib := testenv.TestNginx(t)
	vts := testenv.Upstream(t, "nginx-module-vts")
	tests, _ := filepath.Glob(filepath.Join(vts, "t", "*.t"))
	for _, f := range tests {
		if rel, _ := filepath.Rel(vts, f); !slices.Contains(vtsHardCoded, rel) {
			os.Remove(f)
		}
	}
	m := Module{ID: "nginx-module-vts", Dir: vts, Test: &config.Test{Prove: "t", Required: true}}
	work := t.TempDir()
	o := options(t, mirror, "1.26.3", m)
	o.WorkDir, o.Smoke, o.Tests = work, &Smoke{}, &Tests{PerlLib: []string{lib}, Env: os.Environ()}
	o.Source = celltest.Source(t, mirror)
	res, err := Run(context.Background(), o)
	if len(res.Manifest.Cells) != 1 || len(res.Manifest.Cells[0].Tests) != 1 {
		t.Fatalf("no cell or no suite: %v", err)
	}
	suite := res.Manifest.Cells[0].Tests[0]
	if suite.Ran == 0 || suite.Failed != 0 || suite.FailedFiles != 0 {
		t.Errorf("vts's files with port 1984 hard-coded: %d ran, %d failed in %d files, want all passed: %+v", suite.Ran, suite.Failed, suite.FailedFiles, suite.Files)
	}
	checkSuite(t, suite, m, filepath.Join(work, "test", "0", "module"), lib, res)
}
