package cell

import (
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// TestModulesFailedSaysTests: a module whose suite failed is not reported
// as failed to build (issue 33 item 4).
func TestModulesFailedSaysTests(t *testing.T) {
	t.Parallel()
	test := manifest.Failure{Module: "ngx_http_headers_more_filter_module", Source: ".", Phase: manifest.PhaseTest, Error: "2 of 11 files failed"}
	build := manifest.Failure{Module: "ngx_http_echo_module", Source: "../echo", Phase: manifest.PhaseCompile, Error: "echo.c:1: error"}
	for _, c := range []struct {
		failures []manifest.Failure
		want     string
	}{
		{[]manifest.Failure{test}, "1 module(s) built but failed their tests:\n  ngx_http_headers_more_filter_module (., test): 2 of 11 files failed"},
		{[]manifest.Failure{build, test}, "1 module(s) failed to build, 1 built but failed their tests:"},
		{[]manifest.Failure{build}, "1 module(s) failed to build:\n  ngx_http_echo_module (../echo, compile)"},
	} {
		if got := (&ModulesFailed{Failures: c.failures}).Error(); !strings.HasPrefix(got, c.want) {
			t.Errorf("got %q, want it to start %q", got, c.want)
		}
	}
}
