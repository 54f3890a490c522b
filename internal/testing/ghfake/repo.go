package ghfake

import (
	"net/http"
	"strconv"
	"strings"
)

// repo is one repository's state.
type repo struct {
	id            int64
	name          string // owner/name
	defaultBranch string
	tags          []Tag
	releases      []*release // in creation order
	refs          map[string]string
	objects       map[string]*object
	pulls         []*pull
	labels        []*label
	issues        []*issue
	nextNumber    int
	attestations  []attestation
}

// repo returns a repository, creating it empty on first use.
func (s *Server) repo(name string) *repo {
	r, ok := s.repos[name]
	if !ok {
		r = &repo{id: s.id("repo"), name: name, defaultBranch: "main", refs: map[string]string{},
			objects: map[string]*object{}, nextNumber: 1}
		s.repos[name] = r
		s.byID[r.id] = r
	}
	return r
}

// CreateRepo makes an empty repository whose default branch is branch.
func (s *Server) CreateRepo(name, branch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(name).defaultBranch = branch
}

func (s *Server) repoURL(r *repo) string { return s.URL + "/repos/" + r.name }

// route dispatches a request to its handler.
func (s *Server) route(w http.ResponseWriter, req *http.Request, host string, body []byte) {
	path := strings.Trim(req.URL.Path, "/")
	parts := strings.Split(path, "/")
	switch host {
	case "storage":
		s.download(w, req, parts)
		return
	case "oidc":
		s.idToken(w, req)
		return
	case "uploads":
		// /repos/{owner}/{repo}/releases/{id}/assets
		if req.Method == http.MethodPost && len(parts) == 6 && parts[0] == "repos" && parts[3] == "releases" && parts[5] == "assets" {
			if r, ok := s.repos[parts[1]+"/"+parts[2]]; ok {
				s.uploadAsset(w, req, r, parts[4], body)
				return
			}
			notFound(w)
			return
		}
		s.unexpected(w, req)
		return
	}
	var r *repo
	var rest []string
	switch {
	case len(parts) >= 3 && parts[0] == "repos":
		var ok bool
		if r, ok = s.repos[parts[1]+"/"+parts[2]]; !ok {
			notFound(w)
			return
		}
		rest = parts[3:]
	case len(parts) >= 2 && parts[0] == "repositories":
		id, _ := strconv.ParseInt(parts[1], 10, 64)
		var ok bool
		if r, ok = s.byID[id]; !ok {
			notFound(w)
			return
		}
		rest = parts[2:]
	default:
		s.unexpected(w, req)
		return
	}
	if len(rest) == 0 {
		if req.Method == http.MethodGet {
			owner, name, _ := strings.Cut(r.name, "/")
			writeItem(w, req, http.StatusOK, map[string]any{
				"id": r.id, "node_id": nodeID("R", r.id), "name": name, "full_name": r.name,
				"owner": map[string]any{"login": owner}, "private": false, "fork": false,
				"html_url": "https://github.com/" + r.name, "url": s.repoURL(r), "default_branch": r.defaultBranch,
			})
			return
		}
		s.unexpected(w, req)
		return
	}
	m := req.Method
	switch rest[0] {
	case "tags":
		if m == http.MethodGet && len(rest) == 1 {
			page(s, w, req, r.tags, "")
			return
		}
	case "releases":
		if s.routeReleases(w, req, r, rest[1:], body) {
			return
		}
	case "git":
		if s.routeGit(w, req, r, rest[1:], body) {
			return
		}
	case "contents":
		p := strings.Join(rest[1:], "/")
		switch m {
		case http.MethodGet:
			s.getContents(w, req, r, p)
			return
		case http.MethodPut:
			s.putContents(w, req, r, p, body)
			return
		}
	case "pulls":
		if s.routePulls(w, req, r, rest[1:], body) {
			return
		}
	case "issues":
		if s.routeIssues(w, req, r, rest[1:], body) {
			return
		}
	case "labels":
		if s.routeLabels(w, req, r, rest[1:], body) {
			return
		}
	case "attestations":
		if s.routeAttestations(w, req, r, rest[1:], body) {
			return
		}
	}
	s.unexpected(w, req)
}

// unexpected reports a request the fake does not implement: the test
// fails, and the client sees GitHub's 404.
func (s *Server) unexpected(w http.ResponseWriter, req *http.Request) {
	s.t.Errorf("ghfake: unexpected request %s %s", req.Method, req.URL)
	notFound(w)
}
