package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

type tag struct {
	Name       string `json:"name"`
	ZipballURL string `json:"zipball_url"`
	TarballURL string `json:"tarball_url"`
	Commit     struct {
		SHA string `json:"sha"`
		URL string `json:"url"`
	} `json:"commit"`
}

// tagServer answers GET /repos/nginx/nginx/tags like GitHub: pages of
// per_page (default 30, at most 100), Link headers, strong ETags and 304
// for a matching If-None-Match. Any other request fails the test.
type tagServer struct {
	t *testing.T
	*httptest.Server

	mu       sync.Mutex
	tags     []tag
	fail     int // status to answer every request with, if non-zero
	requests int
}

func newTagServer(t *testing.T) *tagServer {
	t.Helper()
	b, err := os.ReadFile("testdata/nginx-nginx-tags.json")
	if err != nil {
		t.Fatal(err)
	}
	s := &tagServer{t: t}
	if err := json.Unmarshal(b, &s.tags); err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *tagServer) addTag(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tg tag
	tg.Name = name
	tg.Commit.SHA = fmt.Sprintf("%040x", sha256.Sum256([]byte(name)))[:40]
	s.tags = append(s.tags, tg)
	sort.Slice(s.tags, func(i, j int) bool { return s.tags[i].Name > s.tags[j].Name })
}

func (s *tagServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Method != http.MethodGet || r.URL.Path != "/repos/nginx/nginx/tags" {
		s.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	switch s.fail {
	case 0:
	case http.StatusForbidden: // primary rate limit, as GitHub answers it
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "4102444800")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"API rate limit exceeded for 127.0.0.1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`)
		return
	default:
		w.WriteHeader(s.fail)
		fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		return
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	last := (len(s.tags) + per - 1) / per
	lo, hi := min((page-1)*per, len(s.tags)), min(page*per, len(s.tags))
	body, _ := json.Marshal(s.tags[lo:hi])
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s/repos/nginx/nginx/tags?per_page=%d&page=%d>; rel="%s"`, s.URL, per, p, rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	w.Header().Set("ETag", etag)
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(body)
}

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
			gh.fail = status
			idx := indexServer(t)
			res, err := Fetch(context.Background(), Options{APIURL: gh.URL, IndexURL: idx.URL + "/download/"})
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
	if gh.requests != 6 {
		t.Errorf("nginx.org mode asked GitHub (%d requests in all)", gh.requests)
	}
	if x, y := strings.Join(versions(a.Releases), " "), strings.Join(versions(b.Releases), " "); x != y {
		t.Errorf("tags and index disagree")
	}
}

func TestBothSourcesFail(t *testing.T) {
	t.Parallel()
	gh := newTagServer(t)
	gh.fail = http.StatusBadGateway
	idx := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(idx.Close)
	_, err := Fetch(context.Background(), Options{APIURL: gh.URL, IndexURL: idx.URL + "/download/"})
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
