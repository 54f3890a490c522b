// Package ghfake is an in-process, stateful fake of the parts of the
// GitHub REST API nginx-modbuild uses, for tests. It answers like GitHub
// (JSON shapes, Link pagination, ETags and 304), and it is strict: a
// request it does not know is reported to the test as an error.
package ghfake

import (
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

// Server is the fake.
type Server struct {
	*httptest.Server
	t T

	mu       sync.Mutex
	tags     map[string][]Tag // "owner/repo" -> tags, GitHub's order
	failAll  int
	requests int
}

// New starts a fake that stops when the test ends.
func New(t T) *Server {
	t.Helper()
	s := &Server{t: t, tags: map[string][]Tag{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// LoadTags sets a repository's tags from a file of recorded GitHub JSON.
func (s *Server) LoadTags(repo, file string) error {
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
	s.tags[repo] = tags
	s.sortTags(repo)
	return nil
}

// AddTag adds a tag pointing at a made-up commit.
func (s *Server) AddTag(repo, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tg Tag
	tg.Name = name
	tg.Commit.SHA = fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:40]
	s.tags[repo] = append(s.tags[repo], tg)
	s.sortTags(repo)
}

// GitHub lists tags in reverse order of their names, not by version.
func (s *Server) sortTags(repo string) {
	ts := s.tags[repo]
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name > ts[j].Name })
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
	return s.requests
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	switch s.failAll {
	case 0:
	case http.StatusForbidden:
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "4102444800")
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "API rate limit exceeded for 127.0.0.1.",
			"documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
		})
		return
	default:
		w.WriteHeader(s.failAll)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", s.failAll, http.StatusText(s.failAll))
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "repos" && parts[3] == "tags" {
		s.listTags(w, r, parts[1]+"/"+parts[2])
		return
	}
	s.t.Errorf("ghfake: unexpected request %s %s", r.Method, r.URL)
	writeJSON(w, http.StatusNotFound, map[string]string{
		"message": "Not Found", "documentation_url": "https://docs.github.com/rest",
	})
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request, repo string) {
	tags, ok := s.tags[repo]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/repos#list-repository-tags",
		})
		return
	}
	s.page(w, r, tags)
}

// page answers one page of a list with GitHub's per_page rules (default
// 30, at most 100), Link header, strong ETag and 304 on If-None-Match.
func (s *Server) page(w http.ResponseWriter, r *http.Request, all []Tag) {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	last := max((len(all)+per-1)/per, 1)
	lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
	body, _ := json.Marshal(all[lo:hi])
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
	link := func(p int, rel string) string {
		u := *r.URL
		q := u.Query()
		q.Set("per_page", strconv.Itoa(per))
		q.Set("page", strconv.Itoa(p))
		u.RawQuery = q.Encode()
		return fmt.Sprintf(`<%s%s>; rel="%s"`, s.URL, u.RequestURI(), rel)
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
