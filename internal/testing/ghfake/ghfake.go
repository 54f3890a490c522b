// Package ghfake is an in-process, stateful fake of the parts of the
// GitHub REST API nginx-modbuild uses, for tests: tags, releases and their
// assets (uploaded on a separate "uploads" host through the release's
// upload_url template, downloaded through a redirect to a third "storage"
// host), git refs, blobs, trees and commits with real git object hashes,
// contents, pull requests, labels and issues. It answers like GitHub (JSON
// shapes, status codes and error bodies, Link pagination, ETags and 304),
// injects faults on request (5xx, secondary rate limits, uploads cut
// short), and it is strict: a request it does not know is reported to the
// test as an error. conformance_test.go replays real recorded GitHub
// responses against it.
package ghfake

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// T is the part of testing.TB the fake reports through.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
}

// Tag is one entry of GET /repos/{owner}/{repo}/tags.
type Tag struct {
	Name       string `json:"name"`
	ZipballURL string `json:"zipball_url"`
	TarballURL string `json:"tarball_url"`
	Commit     struct {
		SHA string `json:"sha"`
		URL string `json:"url"`
	} `json:"commit"`
}

// Request is one request the fake answered, for tests to assert on.
type Request struct {
	Method string
	// Host is "api", "uploads", "storage" or "oidc".
	Host string
	// Path is the path and query.
	Path   string
	Status int
	// Authorized says whether an Authorization header came along.
	Authorized bool
}

// Fault makes a matching request fail once.
type Fault struct {
	// Match selects the requests this fault counts (nil: every request);
	// the Nth of them from now (1 = the next one) fails, whatever other
	// faults do to the ones before.
	Match func(method, host, path string) bool
	Nth   int
	// Status answers with this status: 5xx with an HTML page like
	// GitHub's front end; 403 or 429 with RetryAfter as GitHub's
	// secondary rate limit.
	Status     int
	RetryAfter int
	// Cut reads half of the request body, then drops the connection
	// without answering. An upload cut short leaves an asset in state
	// "starter", as GitHub does.
	Cut bool

	seen int
}

// Server is the fake: the API host, plus Uploads for release uploads,
// Storage for asset downloads and OIDC for a workflow job's ID tokens.
type Server struct {
	*httptest.Server
	Uploads *httptest.Server
	Storage *httptest.Server
	// OIDC is the Actions runtime's token service: its IDTokenURL is what
	// a job with id-token: write finds in ACTIONS_ID_TOKEN_REQUEST_URL.
	OIDC *httptest.Server
	t    T

	mu sync.Mutex
	// Token, when set, is required on every API and uploads request.
	token    string
	repos    map[string]*repo
	byID     map[int64]*repo
	nextID   map[string]int64
	failAll  int
	faults   []*Fault
	requests []Request
	now      time.Time
	latency  time.Duration
	// bundlesByURL lists attestations by bundle_url (ListBundlesByURL).
	bundlesByURL bool
}

// SetLatency delays every answer, as a network would (benchmarks).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// New starts a fake that stops when the test ends.
func New(t T) *Server {
	t.Helper()
	s := &Server{t: t, repos: map[string]*repo{}, byID: map[int64]*repo{}, nextID: map[string]int64{},
		now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "api") }))
	s.Uploads = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "uploads") }))
	s.Storage = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "storage") }))
	s.OIDC = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "oidc") }))
	t.Cleanup(s.OIDC.Close)
	t.Cleanup(s.Close)
	t.Cleanup(s.Uploads.Close)
	t.Cleanup(s.Storage.Close)
	return s
}

// RequireToken makes every API and uploads request need this token.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Nth < 1 {
		f.Nth = 1
	}
	s.faults = append(s.faults, &f)
}

// FailAll makes every request fail with status (0 to stop): 403 answers
// as GitHub's primary rate limit does, anything else with an HTML page as
// GitHub's front end does for 502.
func (s *Server) FailAll(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAll = status
}

// Requests counts requests answered so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Log returns the requests answered so far.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// LoadTags sets a repository's tags from a file of recorded GitHub JSON.
func (s *Server) LoadTags(name, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var tags []Tag
	if err := json.Unmarshal(b, &tags); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(name)
	r.tags = tags
	r.sortTags()
	return nil
}

// AddTag adds a tag pointing at a made-up commit.
func (s *Server) AddTag(name, tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(name)
	var tg Tag
	tg.Name = tag
	tg.Commit.SHA = fmt.Sprintf("%x", sha256.Sum256([]byte(tag)))[:40]
	r.tags = append(r.tags, tg)
	r.sortTags()
}

// GitHub lists tags in reverse order of their names, not by version.
func (r *repo) sortTags() {
	sort.SliceStable(r.tags, func(i, j int) bool { return r.tags[i].Name > r.tags[j].Name })
}

// id numbers resources of one kind from 1000, each kind on its own, as
// GitHub's ids of different resources are independent.
func (s *Server) id(kind string) int64 {
	n := s.nextID[kind]
	if n == 0 {
		n = 1000
	}
	s.nextID[kind] = n + 1
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, host string) {
	// Upload bodies are read before the lock, so a slow upload does not
	// stall other requests, and a cut can happen halfway.
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	time.Sleep(latency)
	var body []byte
	cut := s.cutFor(r, host)
	if cut {
		half := r.ContentLength / 2
		body, _ = io.ReadAll(io.LimitReader(r.Body, max(half, 1)))
	} else {
		body, _ = io.ReadAll(r.Body)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rec := &Request{Method: r.Method, Host: host, Path: r.URL.RequestURI(), Authorized: r.Header.Get("Authorization") != ""}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if rec.Status == 0 {
			rec.Status = sw.status
		}
		s.requests = append(s.requests, *rec)
	}()
	if cut {
		s.cutUpload(r, body)
		rec.Status = -1
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if s.fault(sw, r, host) {
		return
	}
	if host != "storage" && host != "oidc" && s.token != "" {
		auth := r.Header.Get("Authorization")
		if auth != "token "+s.token && auth != "Bearer "+s.token {
			writeJSON(sw, http.StatusUnauthorized, map[string]any{
				"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
			})
			return
		}
	}
	s.route(sw, r, host, body)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// cutFor reports whether a Cut fault fires for this request.
func (s *Server) cutFor(r *http.Request, host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.due(r, host, true) != nil
}

// due counts the request against every fault of one kind (cuts, or
// answers) that matches it, and removes and returns the first one due.
func (s *Server) due(r *http.Request, host string, cut bool) *Fault {
	var fired *Fault
	kept := s.faults[:0]
	for _, f := range s.faults {
		if f.Cut != cut || (f.Match != nil && !f.Match(r.Method, host, r.URL.Path)) {
			kept = append(kept, f)
			continue
		}
		f.seen++
		if f.seen >= f.Nth && fired == nil {
			fired = f
			continue
		}
		kept = append(kept, f)
	}
	s.faults = kept
	return fired
}

// fault answers the request with an injected or global failure.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, host string) bool {
	status, retryAfter := 0, 0
	if f := s.due(r, host, false); f != nil {
		status, retryAfter = f.Status, f.RetryAfter
	}
	if status == 0 && s.failAll != 0 {
		status = s.failAll
	}
	switch {
	case status == 0:
		return false
	case (status == http.StatusForbidden || status == http.StatusTooManyRequests) && retryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeJSON(w, status, map[string]string{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	case status == http.StatusForbidden:
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "4102444800")
		w.Header().Set("X-RateLimit-Resource", "core")
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "API rate limit exceeded for 127.0.0.1.",
			"documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
		})
	default:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status))
	}
	return true
}

// notFound answers like GitHub does for a missing resource.
func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{
		"message": "Not Found", "documentation_url": "https://docs.github.com/rest",
	})
}

// validation answers 422 Validation Failed with one error.
func validation(w http.ResponseWriter, e map[string]any) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": []any{e},
		"documentation_url": "https://docs.github.com/rest",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeItem answers one resource with a strong ETag and 304 on a match.
func writeItem(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, _ := json.Marshal(v)
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
	w.Header().Set("ETag", etag)
	if r.Method == http.MethodGet && r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// page answers one page of a list with GitHub's per_page rules (default
// 30, at most 100), Link header (links under linkPath when given), strong
// ETag and 304 on If-None-Match.
func page[E any](s *Server, w http.ResponseWriter, r *http.Request, all []E, linkPath string) {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pg = max(pg, 1)
	last := max((len(all)+per-1)/per, 1)
	lo, hi := min((pg-1)*per, len(all)), min(pg*per, len(all))
	items := all[lo:hi]
	if items == nil {
		items = []E{}
	}
	body, _ := json.Marshal(items)
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
	link := func(p int, rel string) string {
		u := *r.URL
		if linkPath != "" {
			u.Path = linkPath
		}
		q := u.Query()
		q.Set("per_page", strconv.Itoa(per))
		q.Set("page", strconv.Itoa(p))
		u.RawQuery = q.Encode()
		return fmt.Sprintf(`<%s%s>; rel="%s"`, s.URL, u.RequestURI(), rel)
	}
	var links []string
	if pg > 1 {
		links = append(links, link(pg-1, "prev"))
	}
	if pg < last {
		links = append(links, link(pg+1, "next"), link(last, "last"))
	}
	if pg > 1 {
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

// timestamp is the fake's clock, one second further per call, so every
// update is ordered.
func (s *Server) timestamp() string {
	s.now = s.now.Add(time.Second)
	return s.now.Format(time.RFC3339)
}

// user is the account every resource is made by.
func (s *Server) user() map[string]any {
	const login = "nginx-modbuild-bot"
	api := s.URL + "/users/" + login
	return map[string]any{
		"login": login, "id": 1, "node_id": "MDQ6VXNlcjE=", "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
		"gravatar_id": "", "url": api, "html_url": "https://github.com/" + login,
		"followers_url": api + "/followers", "following_url": api + "/following{/other_user}",
		"gists_url": api + "/gists{/gist_id}", "starred_url": api + "/starred{/owner}{/repo}",
		"subscriptions_url": api + "/subscriptions", "organizations_url": api + "/orgs",
		"repos_url": api + "/repos", "events_url": api + "/events{/privacy}",
		"received_events_url": api + "/received_events", "type": "User", "site_admin": false,
	}
}

func nodeID(kind string, id int64) string {
	return fmt.Sprintf("%s_%d", kind, id)
}
