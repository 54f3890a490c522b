package ghfake

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type pull struct {
	number            int
	id                int64
	title, body       string
	head, base, state string
	labels            []string
	created, updated  string
}

type label struct {
	id                       int64
	name, color, description string
	isDefault                bool
}

type issue struct {
	number  int
	id      int64
	title   string
	body    string
	state   string
	created string
}

// Pull is a pull request as tests see it.
type Pull struct {
	Number      int
	Title, Body string
	// Head is the branch name, HeadSHA where it points now.
	Head, HeadSHA, Base, State string
	Labels                     []string
}

// Pulls returns a repository's pull requests in creation order.
func (s *Server) Pulls(name string) []Pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return nil
	}
	var out []Pull
	for _, p := range r.pulls {
		out = append(out, Pull{Number: p.number, Title: p.title, Body: p.body, Head: p.head,
			HeadSHA: r.refs["refs/heads/"+p.head], Base: p.base, State: p.state, Labels: append([]string(nil), p.labels...)})
	}
	return out
}

// AddDefaultLabels creates the labels GitHub gives a new repository.
func (s *Server) AddDefaultLabels(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(name)
	for _, l := range [][3]string{
		{"bug", "d73a4a", "Something isn't working"},
		{"documentation", "0075ca", "Improvements or additions to documentation"},
		{"duplicate", "cfd3d7", "This issue or pull request already exists"},
		{"enhancement", "a2eeef", "New feature or request"},
		{"good first issue", "7057ff", "Good for newcomers"},
		{"help wanted", "008672", "Extra attention is needed"},
		{"invalid", "e4e669", "This doesn't seem right"},
		{"question", "d876e3", "Further information is requested"},
		{"wontfix", "ffffff", "This will not be worked on"},
	} {
		r.labels = append(r.labels, &label{id: s.id("label"), name: l[0], color: l[1], description: l[2], isDefault: true})
	}
}

// AddIssues creates n open issues titled "Test issue N".
func (s *Server) AddIssues(name string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(name)
	for i := 0; i < n; i++ {
		num := r.nextNumber
		r.nextNumber++
		r.issues = append(r.issues, &issue{number: num, id: s.id("issue"), title: "Test issue " + strconv.Itoa(num), state: "open", created: s.timestamp()})
	}
}

func (s *Server) pullJSON(r *repo, p *pull) map[string]any {
	u := s.repoURL(r) + "/pulls/" + strconv.Itoa(p.number)
	owner := strings.Split(r.name, "/")[0]
	return map[string]any{
		"url": u, "id": p.id, "node_id": nodeID("PR", p.id), "number": p.number, "state": p.state,
		"title": p.title, "body": p.body, "user": s.user(), "labels": s.labelsJSON(r, p.labels),
		"html_url":   "https://github.com/" + r.name + "/pull/" + strconv.Itoa(p.number),
		"issue_url":  s.repoURL(r) + "/issues/" + strconv.Itoa(p.number),
		"created_at": p.created, "updated_at": p.updated, "draft": false, "merged": false,
		"head": map[string]any{"label": owner + ":" + p.head, "ref": p.head, "sha": r.refs["refs/heads/"+p.head]},
		"base": map[string]any{"label": owner + ":" + p.base, "ref": p.base, "sha": r.refs["refs/heads/"+p.base]},
	}
}

// pull finds a pull request by its number (nil if none).
func (r *repo) pull(number string) *pull {
	n, _ := strconv.Atoi(number)
	for _, p := range r.pulls {
		if p.number == n {
			return p
		}
	}
	return nil
}

// labelsJSON renders the named labels, in the order given.
func (s *Server) labelsJSON(r *repo, names []string) []any {
	list := []any{}
	for _, n := range names {
		for _, l := range r.labels {
			if l.name == n {
				list = append(list, s.labelJSON(r, l))
			}
		}
	}
	return list
}

func (s *Server) routePulls(w http.ResponseWriter, req *http.Request, r *repo, rest []string, body []byte) bool {
	m := req.Method
	owner := strings.Split(r.name, "/")[0]
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		q := req.URL.Query()
		state := q.Get("state")
		if state == "" {
			state = "open"
		}
		list := []map[string]any{}
		// Newest first, like GitHub's default sort.
		for i := len(r.pulls) - 1; i >= 0; i-- {
			p := r.pulls[i]
			if state != "all" && p.state != state {
				continue
			}
			if h := q.Get("head"); h != "" && h != owner+":"+p.head {
				continue
			}
			if b := q.Get("base"); b != "" && b != p.base {
				continue
			}
			list = append(list, s.pullJSON(r, p))
		}
		page(s, w, req, list, "")
	case len(rest) == 0 && m == http.MethodPost:
		var in struct{ Title, Body, Head, Base string }
		if json.Unmarshal(body, &in) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
			return true
		}
		head := strings.TrimPrefix(in.Head, owner+":")
		if _, ok := r.refs["refs/heads/"+head]; !ok {
			validation(w, map[string]any{"resource": "PullRequest", "field": "head", "code": "invalid"})
			return true
		}
		if _, ok := r.refs["refs/heads/"+in.Base]; !ok {
			validation(w, map[string]any{"resource": "PullRequest", "field": "base", "code": "invalid"})
			return true
		}
		for _, p := range r.pulls {
			if p.state == "open" && p.head == head && p.base == in.Base {
				validation(w, map[string]any{"resource": "PullRequest", "code": "custom",
					"message": "A pull request already exists for " + owner + ":" + head + "."})
				return true
			}
		}
		if r.refs["refs/heads/"+head] == r.refs["refs/heads/"+in.Base] {
			validation(w, map[string]any{"resource": "PullRequest", "code": "custom",
				"message": "No commits between " + in.Base + " and " + head})
			return true
		}
		p := &pull{number: r.nextNumber, id: s.id("pull"), title: in.Title, body: in.Body, head: head, base: in.Base, state: "open"}
		r.nextNumber++
		p.created = s.timestamp()
		p.updated = p.created
		r.pulls = append(r.pulls, p)
		writeJSON(w, http.StatusCreated, s.pullJSON(r, p))
	case len(rest) == 1:
		p := r.pull(rest[0])
		if p == nil {
			notFound(w)
			return true
		}
		switch m {
		case http.MethodGet:
			writeItem(w, req, http.StatusOK, s.pullJSON(r, p))
		case http.MethodPatch:
			var in struct{ Title, Body, State *string }
			json.Unmarshal(body, &in)
			if in.Title != nil {
				p.title = *in.Title
			}
			if in.Body != nil {
				p.body = *in.Body
			}
			if in.State != nil {
				p.state = *in.State
			}
			p.updated = s.timestamp()
			writeJSON(w, http.StatusOK, s.pullJSON(r, p))
		default:
			return false
		}
	default:
		return false
	}
	return true
}

func (s *Server) issueJSON(r *repo, is *issue) map[string]any {
	u := s.repoURL(r) + "/issues/" + strconv.Itoa(is.number)
	return map[string]any{
		"url": u, "repository_url": s.repoURL(r), "labels_url": u + "/labels{/name}",
		"comments_url": u + "/comments", "events_url": u + "/events",
		"html_url": "https://github.com/" + r.name + "/issues/" + strconv.Itoa(is.number),
		"id":       is.id, "node_id": nodeID("I", is.id), "number": is.number, "title": is.title,
		"user": s.user(), "labels": []any{}, "state": is.state, "locked": false,
		"assignee": nil, "assignees": []any{}, "milestone": nil, "comments": 0,
		"created_at": is.created, "updated_at": is.created, "closed_at": nil,
		"author_association": "OWNER", "active_lock_reason": nil, "body": nilIfEmpty(is.body),
		"reactions": map[string]any{"url": u + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
			"hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
		"timeline_url": u + "/timeline", "performed_via_github_app": nil, "state_reason": nil,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) routeIssues(w http.ResponseWriter, req *http.Request, r *repo, rest []string, body []byte) bool {
	switch {
	case len(rest) == 0 && req.Method == http.MethodGet:
		list := []map[string]any{}
		for i := len(r.issues) - 1; i >= 0; i-- {
			if r.issues[i].state == "open" {
				list = append(list, s.issueJSON(r, r.issues[i]))
			}
		}
		// GitHub's links name the repository by id.
		page(s, w, req, list, "/repositories/"+strconv.FormatInt(r.id, 10)+"/issues")
	case len(rest) == 2 && rest[1] == "labels" && req.Method == http.MethodPost:
		p := r.pull(rest[0])
		if p == nil {
			notFound(w)
			return true
		}
		// GitHub takes {"labels": [...]} or a bare array (go-github's).
		var in struct{ Labels []string }
		if json.Unmarshal(body, &in) != nil {
			json.Unmarshal(body, &in.Labels)
		}
		for _, name := range in.Labels {
			var l *label
			for _, x := range r.labels {
				if x.name == name {
					l = x
				}
			}
			if l == nil { // GitHub creates a missing label
				l = &label{id: s.id("label"), name: name, color: "ededed"}
				r.labels = append(r.labels, l)
			}
			if !slices.Contains(p.labels, name) {
				p.labels = append(p.labels, name)
			}
		}
		writeJSON(w, http.StatusOK, s.labelsJSON(r, p.labels))
	default:
		return false
	}
	return true
}

func (s *Server) labelJSON(r *repo, l *label) map[string]any {
	return map[string]any{
		"id": l.id, "node_id": nodeID("LA", l.id), "url": s.repoURL(r) + "/labels/" + l.name,
		"name": l.name, "color": l.color, "default": l.isDefault, "description": nilIfEmpty(l.description),
	}
}

var hexColor = regexp.MustCompile(`^[0-9a-fA-F]{6}$`)

func (s *Server) routeLabels(w http.ResponseWriter, req *http.Request, r *repo, rest []string, body []byte) bool {
	m := req.Method
	find := func(name string) (int, *label) {
		for i, l := range r.labels {
			if strings.EqualFold(l.name, name) {
				return i, l
			}
		}
		return -1, nil
	}
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		list := []map[string]any{}
		for _, l := range r.labels {
			list = append(list, s.labelJSON(r, l))
		}
		page(s, w, req, list, "")
	case len(rest) == 0 && m == http.MethodPost:
		var in struct{ Name, Color, Description string }
		json.Unmarshal(body, &in)
		if !hexColor.MatchString(in.Color) {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
				"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Label", "code": "invalid", "field": "color"}},
				"documentation_url": "https://docs.github.com/rest/reference/issues#create-a-label",
			})
			return true
		}
		if _, l := find(in.Name); l != nil {
			validation(w, map[string]any{"resource": "Label", "code": "already_exists", "field": "name"})
			return true
		}
		l := &label{id: s.id("label"), name: in.Name, color: in.Color, description: in.Description}
		r.labels = append(r.labels, l)
		w.Header().Set("Location", s.repoURL(r)+"/labels/"+l.name)
		writeJSON(w, http.StatusCreated, s.labelJSON(r, l))
	case len(rest) == 1:
		i, l := find(rest[0])
		if l == nil {
			notFound(w)
			return true
		}
		switch m {
		case http.MethodGet:
			writeItem(w, req, http.StatusOK, s.labelJSON(r, l))
		case http.MethodPatch:
			var in struct {
				NewName     *string `json:"new_name"`
				Color       *string `json:"color"`
				Description *string `json:"description"`
			}
			json.Unmarshal(body, &in)
			if in.Color != nil {
				if !hexColor.MatchString(*in.Color) {
					validation(w, map[string]any{"resource": "Label", "code": "invalid", "field": "color"})
					return true
				}
				l.color = *in.Color
			}
			if in.NewName != nil {
				l.name = *in.NewName
			}
			if in.Description != nil {
				l.description = *in.Description
			}
			writeJSON(w, http.StatusOK, s.labelJSON(r, l))
		case http.MethodDelete:
			r.labels = append(r.labels[:i], r.labels[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
		default:
			return false
		}
	default:
		return false
	}
	return true
}
