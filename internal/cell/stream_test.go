package cell

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestStreamModulesConfigureStream is issue 34's item 3: stream-sts
// (ngx_module_type=STREAM, no test of $STREAM) and sts (an http module
// including ngx_stream.h), as their maintainer publishes them, with no
// configure arguments in the config: the cell configures
// --with-stream=dynamic, both .so files build and load (after nginx's
// ngx_stream_module.so, which is not written), and the stream module's
// entry says the target needs ngx_stream_module. Before, both failed
// with "ngx_stream.h: No such file" once per source file.
func TestStreamModulesConfigureStream(t *testing.T) {
	mirror := prerequisites(t)
	sts, streamSTS := testenv.Upstream(t, "nginx-module-sts"), testenv.Upstream(t, "nginx-module-stream-sts")
	for dir, want := range map[string]string{streamSTS: "config declares ngx_module_type=STREAM", sts: "includes ngx_stream.h"} {
		if got := modconf.NeedsStream(dir); !strings.Contains(got, want) {
			t.Errorf("NeedsStream(%s) = %q, want it to say %q", filepath.Base(dir), got, want)
		}
	}
	// vts names ngx_stream_ identifiers nowhere it includes: no stream.
	if got := modconf.NeedsStream(testenv.Upstream(t, "nginx-module-vts")); got != "" {
		t.Errorf("NeedsStream(vts) = %q, want none", got)
	}
	o := options(t, mirror, "1.26.3", Module{ID: "stream-sts", Dir: streamSTS}, Module{ID: "sts", Dir: sts})
	o.Smoke = &Smoke{}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%+v", err, res.Manifest.Cells)
	}
	cell := res.Manifest.Cells[0]
	if !slices.Contains(cell.Configure, "--with-stream=dynamic") {
		t.Errorf("configure %v: no --with-stream=dynamic", cell.Configure)
	}
	got := map[string]manifest.Entry{}
	for _, e := range res.Manifest.Entries {
		got[e.Module] = e
	}
	if _, ok := got["ngx_stream_module"]; ok {
		t.Errorf("nginx's own ngx_stream_module is an entry: %+v", got["ngx_stream_module"])
	}
	files, _ := filepath.Glob(filepath.Join(o.Out, "ngx_stream_module*"))
	if len(files) > 0 {
		t.Errorf("nginx's own module written: %v", files)
	}
	s, ok := got["ngx_stream_server_traffic_status_module"]
	if !ok || !slices.Equal(s.NginxModules, []string{"ngx_stream_module"}) || len(s.Requires) != 0 {
		t.Errorf("stream-sts entry %+v: want nginx_modules [ngx_stream_module] and no requires", s)
	}
	if _, ok := got["ngx_http_stream_server_traffic_status_module"]; !ok {
		t.Errorf("sts did not build: entries %v, failures %+v", got, cell.Failures)
	}
	for _, e := range res.Manifest.Entries {
		if _, err := os.Stat(filepath.Join(o.Out, e.File)); err != nil {
			t.Errorf("%s: %v", e.File, err)
		}
	}
}
