package cell

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestSuggestNeedsAndSkips reads nginx 1.22.1's own directive tables and
// turns the blocks nginx could not start in into the test: lines that
// fix them: needs: for nginx's own modules by directive, skip: for a
// third-party module's directive (issue 33 item 4).
func TestSuggestNeedsAndSkips(t *testing.T) {
	t.Parallel()
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	f, err := os.Open(filepath.Join(mirror, "nginx-1.22.1.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root, err := source.Extract(f, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	needs := nginxNeeds(root)
	for directive, want := range map[string]string{
		"dav_methods": "dav", "image_filter": "image_filter", "set_real_ip_from": "realip", "stream": "stream",
		"proxy_protocol_timeout": "stream", "geoip_country": "geoip", "mail": "mail", "smtp_auth": "mail", "sub_filter": "sub", "xslt_stylesheet": "xslt", "gunzip": "gunzip",
	} {
		if got := needs[directive]; got != want {
			t.Errorf("%s: needs %q, want %q", directive, got, want)
		}
	}
	if len(needs) < 150 {
		t.Errorf("only %d directives read from nginx's modules", len(needs))
	}
	tests := manifest.Tests{Files: []manifest.TestFile{{File: "t/dav.t", BailOuts: 2, Failures: []manifest.TestFailure{
		{Block: 3, Desc: "TEST 3: put - nginx did not start: unknown directive \"dav_methods\"", Directive: "dav_methods"},
		{Block: 7, Desc: "TEST 7: iconv - nginx did not start: unknown directive \"set_iconv\"", Directive: "set_iconv"},
		{Number: 4, Block: 2, Desc: "TEST 2: get - status code ok"},
	}}}, Failed: 1, Ran: 10, FailedFiles: 1}
	want := "    needs: [dav]\n    skip:\n      - {file: t/dav.t, block: 7, reason: \"unknown directive set_iconv: a module the cell does not build\"}"
	if got := Suggest(tests, needs); got != want {
		t.Errorf("suggestion:\n%s\nwant:\n%s", got, want)
	}
	if got := TestsSummary(tests); !strings.Contains(got, "1 of 10 tests failed, 1 of 1 files failed, 2 block(s) where nginx did not start") {
		t.Errorf("summary: %s", got)
	}
}
