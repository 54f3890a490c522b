package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
)

// tagServer is the GitHub fake serving the recorded tags of nginx/nginx.
type tagServer struct {
	*ghfake.Server
}

func newTagServer(t *testing.T) *tagServer {
	t.Helper()
	s := ghfake.New(t)
	if err := s.LoadTags("nginx/nginx", "testdata/nginx-nginx-tags.json"); err != nil {
		t.Fatal(err)
	}
	return &tagServer{s}
}

func (s *tagServer) addTag(name string) { s.AddTag("nginx/nginx", name) }

func indexServer(t *testing.T) *httptest.Server {
	t.Helper()
	page, err := os.ReadFile("testdata/nginx.org-download.html")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/download/" {
			t.Errorf("unexpected index request %s", r.URL)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write(page)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func versions(rels []Release) []string {
	var out []string
	for _, r := range rels {
		out = append(out, r.String())
	}
	return out
}

func TestGitHubListsEveryRelease(t *testing.T) {
	t.Parallel()
	gh := newTagServer(t)
	res, err := Fetch(context.Background(), Options{APIURL: gh.URL, IndexURL: "http://127.0.0.1:1/unused/"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "github" || len(res.Warnings) != 0 {
		t.Errorf("source %s, warnings %v", res.Source, res.Warnings)
	}
	if got := len(res.Releases); got != 594 {
		t.Errorf("got %d releases, want 594", got)
	}
	if got := strings.Join(versions(res.Releases[:6]), " "); got != "1.31.4 1.31.3 1.31.2 1.31.1 1.31.0 1.30.4" {
		t.Errorf("newest releases = %s", got)
	}
	if res.Releases[0].Line != "mainline" || res.Releases[5].Line != "stable" {
		t.Errorf("lines = %s, %s", res.Releases[0].Line, res.Releases[5].Line)
	}
	if res.Requests != 6 {
		t.Errorf("made %d requests for 594 tags, want 6 pages of 100", res.Requests)
	}
}

func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	gh := newTagServer(t)
	opts := Options{APIURL: gh.URL, CacheDir: t.TempDir()}
	first, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if first.NotModified != 0 {
		t.Errorf("first run: %d 304s with an empty cache", first.NotModified)
	}
	second, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if second.NotModified != second.Requests || second.Requests != 6 {
		t.Errorf("unchanged list: %d requests, %d answered 304; want every page 304", second.Requests, second.NotModified)
	}
	if a, b := strings.Join(versions(first.Releases), " "), strings.Join(versions(second.Releases), " "); a != b {
		t.Error("the cached answer differs from the fresh one")
	}

	gh.addTag("release-1.31.5") // a new release lands mid-list (tags sort by name)
	third, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := third.Releases[0].String(); got != "1.31.5" {
		t.Errorf("after a new tag, newest = %s, want 1.31.5", got)
	}
	if third.NotModified >= third.Requests {
		t.Errorf("changed list answered entirely from cache (%d/%d)", third.NotModified, third.Requests)
	}
}

func TestJunkTagsIgnored(t *testing.T) {
	t.Parallel()
	gh := newTagServer(t)
	for _, junk := range []string{"v1.0.0", "release-1.27", "release-1.27.0-rc1", "nginx-1.2.3", "latest", "release-01.2.3.4"} {
		gh.addTag(junk)
	}
	res, err := Fetch(context.Background(), Options{APIURL: gh.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Releases) != 594 || res.Ignored != 6 {
		t.Errorf("%d releases, %d ignored; want 594 and 6", len(res.Releases), res.Ignored)
	}
}

func TestFallbackToNginxOrg(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadGateway, http.StatusForbidden} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			gh := newTagServer(t)
			gh.FailAll(status)
			idx := indexServer(t)
			res, err := Fetch(context.Background(), Options{APIURL: gh.URL, IndexURL: idx.URL + "/download/", Sleep: instant})
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != "nginx.org" {
				t.Errorf("source = %s, want nginx.org", res.Source)
			}
			if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "falling back to") {
				t.Errorf("warnings = %q", res.Warnings)
			}
			if len(res.Releases) != 594 || res.Releases[0].String() != "1.31.4" {
				t.Errorf("%d releases from the index, newest %s", len(res.Releases), res.Releases[0])
			}
		})
	}
}

func TestIndexAgreesWithTags(t *testing.T) {
	t.Parallel()
	gh := newTagServer(t)
	idx := indexServer(t)
	a, err := Fetch(context.Background(), Options{APIURL: gh.URL})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fetch(context.Background(), Options{Mode: NginxOrg, IndexURL: idx.URL + "/download/"})
	if err != nil {
		t.Fatal(err)
	}
	if gh.Requests() != 6 {
		t.Errorf("nginx.org mode asked GitHub (%d requests in all)", gh.Requests())
	}
	if x, y := strings.Join(versions(a.Releases), " "), strings.Join(versions(b.Releases), " "); x != y {
		t.Errorf("tags and index disagree")
	}
}

func TestBothSourcesFail(t *testing.T) {
	t.Parallel()
	gh := newTagServer(t)
	gh.FailAll(http.StatusBadGateway)
	idx := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(idx.Close)
	_, err := Fetch(context.Background(), Options{APIURL: gh.URL, IndexURL: idx.URL + "/download/", Sleep: instant})
	if err == nil {
		t.Fatal("no error when both sources fail")
	}
	for _, want := range []string{"502", "404 Not Found", idx.URL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"github", "nginx.org"} {
		if _, err := ParseMode(ok); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseMode("gitlab"); err == nil {
		t.Error("accepted gitlab")
	}
}

func TestLocalMirrorDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"nginx-1.22.1.tar.gz", "nginx-1.22.1.tar.gz.asc", "nginx-1.26.3.tar.gz", "nginx-1.26.3.zip", "README"} {
		if err := os.WriteFile(dir+"/"+f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, mirror := range []string{dir, "file://" + dir} {
		res, err := Fetch(context.Background(), Options{Mode: NginxOrg, IndexURL: mirror})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(versions(res.Releases), " "); got != "1.26.3 1.22.1" {
			t.Errorf("%s: releases %s", mirror, got)
		}
	}
	if _, err := Fetch(context.Background(), Options{Mode: NginxOrg, IndexURL: t.TempDir()}); err == nil {
		t.Error("an empty mirror directory gave no error")
	}
}

func instant(context.Context, time.Duration) error { return nil }

// TestGitHubRetries is issue 12's one GitHub client: the watch goes
// through internal/platform/ghclient, so a 502 and a secondary rate limit on a
// page are retried (no fallback to the index), and the token goes to the
// API host only.
func TestGitHubRetries(t *testing.T) {
	t.Parallel()
	gh := newTagServer(t)
	gh.RequireToken("t0ken")
	gh.Inject(ghfake.Fault{Nth: 1, Status: http.StatusBadGateway})
	gh.Inject(ghfake.Fault{Nth: 3, Status: http.StatusForbidden, RetryAfter: 1})
	var slept []time.Duration
	var logged []string
	res, err := Fetch(context.Background(), Options{APIURL: gh.URL, Token: "t0ken", IndexURL: "http://127.0.0.1:1/",
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
		Logf:  func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "github" || len(res.Warnings) != 0 || len(res.Releases) != 594 {
		t.Errorf("source %s, warnings %q, %d releases", res.Source, res.Warnings, len(res.Releases))
	}
	if len(slept) != 2 || res.Requests != 8 {
		t.Errorf("slept %v, %d requests; want two retries, 6 pages + 2", slept, res.Requests)
	}
	if len(logged) != 2 || !strings.Contains(logged[0], "retry 1/2") {
		t.Errorf("logged %q", logged)
	}
}
