package ghfake

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

type release struct {
	id                      int64
	tag, target, name, body string
	draft, prerelease       bool
	// makeLatest is the make_latest the release was created or last
	// edited with ("true", "false", "legacy" or "" when not sent).
	makeLatest         string
	created, published string
	assets             []*asset
}

type asset struct {
	id                       int64
	name, label, contentType string
	state                    string // "uploaded" or "starter"
	data                     []byte
	created, updated         string
	downloads                int
}

// Release is a release as tests see it.
type Release struct {
	ID     int64
	Tag    string
	Name   string
	Body   string
	Assets []Asset
	// MakeLatest is the make_latest it was created with ("" if not sent).
	MakeLatest string
}

// Asset is an asset as tests see it.
type Asset struct {
	ID     int64
	Name   string
	Label  string
	State  string
	Data   []byte
	SHA256 string
}

// CreateRelease makes a published release, as a test's starting state.
func (s *Server) CreateRelease(name, tag, title, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(name)
	rel := &release{id: s.id("release"), tag: tag, target: r.defaultBranch, name: title, body: body}
	rel.created = s.timestamp()
	rel.published = rel.created
	r.releases = append(r.releases, rel)
	return rel.id
}

// AddAsset attaches an uploaded asset to a release, as a test's starting
// state.
func (s *Server) AddAsset(name string, releaseID int64, assetName, label string, data []byte) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(name)
	for _, rel := range r.releases {
		if rel.id == releaseID {
			a := &asset{id: s.id("asset"), name: assetName, label: label, contentType: "application/octet-stream",
				state: "uploaded", data: data, created: s.timestamp()}
			a.updated = a.created
			rel.assets = append(rel.assets, a)
			return a.id
		}
	}
	s.t.Errorf("ghfake: AddAsset: no release %d in %s", releaseID, name)
	return 0
}

// ReplaceAsset puts other bytes behind a release's asset, as someone who
// can write the release would (delete and upload again): a test's attack.
func (s *Server) ReplaceAsset(name, tag, assetName string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rel := range s.repo(name).releases {
		if rel.tag != tag {
			continue
		}
		for _, a := range rel.assets {
			if a.name == assetName {
				a.data, a.id, a.updated = append([]byte(nil), data...), s.id("asset"), s.timestamp()
				return
			}
		}
	}
	s.t.Errorf("ghfake: ReplaceAsset: no asset %s in release %s of %s", assetName, tag, name)
}

// Releases returns a repository's releases, oldest first.
func (s *Server) Releases(name string) []Release {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return nil
	}
	var out []Release
	for _, rel := range r.releases {
		o := Release{ID: rel.id, Tag: rel.tag, Name: rel.name, Body: rel.body, MakeLatest: rel.makeLatest}
		for _, a := range rel.assets {
			o.Assets = append(o.Assets, Asset{ID: a.id, Name: a.name, Label: a.label, State: a.state,
				Data: append([]byte(nil), a.data...), SHA256: fmt.Sprintf("%x", sha256.Sum256(a.data))})
		}
		out = append(out, o)
	}
	return out
}

func (s *Server) releaseJSON(r *repo, rel *release) map[string]any {
	u := s.repoURL(r) + "/releases/" + strconv.FormatInt(rel.id, 10)
	assets := []any{}
	for _, a := range rel.assets {
		assets = append(assets, s.assetJSON(r, a))
	}
	var published any
	if !rel.draft {
		published = rel.published
	}
	return map[string]any{
		"url": u, "assets_url": u + "/assets",
		"upload_url": s.Uploads.URL + "/repos/" + r.name + "/releases/" + strconv.FormatInt(rel.id, 10) + "/assets{?name,label}",
		"html_url":   "https://github.com/" + r.name + "/releases/tag/" + rel.tag,
		"id":         rel.id, "author": s.user(), "node_id": nodeID("RE", rel.id),
		"tag_name": rel.tag, "target_commitish": rel.target, "name": rel.name,
		"draft": rel.draft, "prerelease": rel.prerelease,
		"created_at": rel.created, "published_at": published, "assets": assets,
		"tarball_url": s.repoURL(r) + "/tarball/" + rel.tag,
		"zipball_url": s.repoURL(r) + "/zipball/" + rel.tag,
		"body":        rel.body,
	}
}

func (s *Server) assetJSON(r *repo, a *asset) map[string]any {
	var label any
	if a.label != "" {
		label = a.label
	}
	return map[string]any{
		"url": s.repoURL(r) + "/releases/assets/" + strconv.FormatInt(a.id, 10),
		"id":  a.id, "node_id": nodeID("RA", a.id), "name": a.name, "label": label,
		"uploader": s.user(), "content_type": a.contentType, "state": a.state,
		"size": len(a.data), "download_count": a.downloads,
		"created_at": a.created, "updated_at": a.updated,
		"browser_download_url": "https://github.com/" + r.name + "/releases/download/" + url.PathEscape(s.releaseOf(r, a).tag) + "/" + url.PathEscape(a.name),
	}
}

func (s *Server) releaseOf(r *repo, a *asset) *release {
	for _, rel := range r.releases {
		for _, x := range rel.assets {
			if x == a {
				return rel
			}
		}
	}
	return &release{}
}

func (r *repo) release(id string) *release {
	n, _ := strconv.ParseInt(id, 10, 64)
	for _, rel := range r.releases {
		if rel.id == n {
			return rel
		}
	}
	return nil
}

func (r *repo) asset(id string) (*release, int, *asset) {
	n, _ := strconv.ParseInt(id, 10, 64)
	for _, rel := range r.releases {
		for i, a := range rel.assets {
			if a.id == n {
				return rel, i, a
			}
		}
	}
	return nil, 0, nil
}

type releaseInput struct {
	TagName         *string `json:"tag_name"`
	TargetCommitish *string `json:"target_commitish"`
	Name            *string `json:"name"`
	Body            *string `json:"body"`
	Draft           *bool   `json:"draft"`
	Prerelease      *bool   `json:"prerelease"`
	MakeLatest      *string `json:"make_latest"`
}

func (s *Server) routeReleases(w http.ResponseWriter, req *http.Request, r *repo, rest []string, body []byte) bool {
	m := req.Method
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		// Newest first.
		list := []map[string]any{}
		for i := len(r.releases) - 1; i >= 0; i-- {
			list = append(list, s.releaseJSON(r, r.releases[i]))
		}
		page(s, w, req, list, "")
	case len(rest) == 0 && m == http.MethodPost:
		var in releaseInput
		if json.Unmarshal(body, &in) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
			return true
		}
		if in.TagName == nil || *in.TagName == "" {
			validation(w, map[string]any{"resource": "Release", "code": "missing_field", "field": "tag_name"})
			return true
		}
		for _, rel := range r.releases {
			if rel.tag == *in.TagName {
				validation(w, map[string]any{"resource": "Release", "code": "already_exists", "field": "tag_name"})
				return true
			}
		}
		rel := &release{id: s.id("release"), tag: *in.TagName, target: r.defaultBranch, name: *in.TagName}
		rel.apply(in)
		rel.created = s.timestamp()
		rel.published = rel.created
		r.releases = append(r.releases, rel)
		w.Header().Set("Location", s.repoURL(r)+"/releases/"+strconv.FormatInt(rel.id, 10))
		writeJSON(w, http.StatusCreated, s.releaseJSON(r, rel))
	case len(rest) == 1 && rest[0] == "latest" && m == http.MethodGet:
		for i := len(r.releases) - 1; i >= 0; i-- {
			// make_latest: false keeps a release from becoming the latest.
			if rel := r.releases[i]; !rel.draft && !rel.prerelease && rel.makeLatest != "false" {
				writeItem(w, req, http.StatusOK, s.releaseJSON(r, rel))
				return true
			}
		}
		notFound(w)
	case len(rest) == 2 && rest[0] == "tags" && m == http.MethodGet:
		for _, rel := range r.releases {
			if rel.tag == rest[1] {
				writeItem(w, req, http.StatusOK, s.releaseJSON(r, rel))
				return true
			}
		}
		notFound(w)
	case len(rest) == 2 && rest[0] == "assets":
		rel, i, a := r.asset(rest[1])
		if a == nil {
			notFound(w)
			return true
		}
		switch m {
		case http.MethodGet:
			if strings.Contains(req.Header.Get("Accept"), "application/octet-stream") {
				w.Header().Set("Location", fmt.Sprintf("%s/dl/%s/%d/%s?X-Amz-Signature=%x", s.Storage.URL, r.name, a.id,
					url.PathEscape(a.name), sha256.Sum256([]byte(a.name))))
				w.WriteHeader(http.StatusFound)
				return true
			}
			writeItem(w, req, http.StatusOK, s.assetJSON(r, a))
		case http.MethodPatch:
			var in struct {
				Name  *string `json:"name"`
				Label *string `json:"label"`
			}
			json.Unmarshal(body, &in)
			if in.Name != nil && *in.Name != a.name {
				for _, x := range rel.assets {
					if x.name == *in.Name {
						validation(w, map[string]any{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"})
						return true
					}
				}
				a.name = *in.Name
			}
			if in.Label != nil {
				a.label = *in.Label
			}
			a.updated = s.timestamp()
			writeJSON(w, http.StatusOK, s.assetJSON(r, a))
		case http.MethodDelete:
			rel.assets = append(rel.assets[:i], rel.assets[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
		default:
			return false
		}
	case len(rest) >= 1 && rest[0] != "tags" && rest[0] != "assets" && rest[0] != "latest":
		rel := r.release(rest[0])
		if rel == nil {
			notFound(w)
			return true
		}
		switch {
		case len(rest) == 1 && m == http.MethodGet:
			writeItem(w, req, http.StatusOK, s.releaseJSON(r, rel))
		case len(rest) == 1 && m == http.MethodPatch:
			var in releaseInput
			if json.Unmarshal(body, &in) != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
				return true
			}
			if in.TagName != nil && *in.TagName != rel.tag {
				for _, x := range r.releases {
					if x.tag == *in.TagName {
						validation(w, map[string]any{"resource": "Release", "code": "already_exists", "field": "tag_name"})
						return true
					}
				}
				rel.tag = *in.TagName
			}
			rel.apply(in)
			writeJSON(w, http.StatusOK, s.releaseJSON(r, rel))
		case len(rest) == 1 && m == http.MethodDelete:
			for i, x := range r.releases {
				if x == rel {
					r.releases = append(r.releases[:i], r.releases[i+1:]...)
				}
			}
			w.WriteHeader(http.StatusNoContent)
		case len(rest) == 2 && rest[1] == "assets" && m == http.MethodGet:
			list := []map[string]any{}
			for _, a := range rel.assets {
				list = append(list, s.assetJSON(r, a))
			}
			page(s, w, req, list, "")
		default:
			return false
		}
	default:
		return false
	}
	return true
}

func (rel *release) apply(in releaseInput) {
	if in.TargetCommitish != nil {
		rel.target = *in.TargetCommitish
	}
	if in.Name != nil {
		rel.name = *in.Name
	}
	if in.Body != nil {
		rel.body = *in.Body
	}
	if in.Draft != nil {
		rel.draft = *in.Draft
	}
	if in.Prerelease != nil {
		rel.prerelease = *in.Prerelease
	}
	if in.MakeLatest != nil {
		rel.makeLatest = *in.MakeLatest
	}
}

// uploadAsset answers POST {upload_url}?name=&label= on the uploads host.
func (s *Server) uploadAsset(w http.ResponseWriter, req *http.Request, r *repo, id string, body []byte) {
	rel := r.release(id)
	if rel == nil {
		notFound(w)
		return
	}
	name := req.URL.Query().Get("name")
	if name == "" {
		validation(w, map[string]any{"resource": "ReleaseAsset", "code": "missing_field", "field": "name"})
		return
	}
	if req.Header.Get("Content-Type") == "" {
		validation(w, map[string]any{"resource": "ReleaseAsset", "code": "missing_field", "field": "content_type"})
		return
	}
	for _, a := range rel.assets {
		if a.name == name {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
				"message": "Validation Failed", "request_id": "0000:00000:0000000:0000000:00000000",
				"documentation_url": "https://docs.github.com/rest",
				"errors":            []any{map[string]any{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}},
			})
			return
		}
	}
	a := &asset{id: s.id("asset"), name: name, label: req.URL.Query().Get("label"), contentType: req.Header.Get("Content-Type"),
		state: "uploaded", data: body, created: s.timestamp()}
	a.updated = a.created
	rel.assets = append(rel.assets, a)
	writeJSON(w, http.StatusCreated, s.assetJSON(r, a))
}

// cutUpload records what GitHub leaves behind when an upload's connection
// breaks: an asset in state "starter" that blocks its name.
func (s *Server) cutUpload(req *http.Request, body []byte) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	if len(parts) != 6 || parts[0] != "repos" || parts[5] != "assets" {
		return
	}
	r, ok := s.repos[parts[1]+"/"+parts[2]]
	if !ok {
		return
	}
	rel := r.release(parts[4])
	name := req.URL.Query().Get("name")
	if rel == nil || name == "" {
		return
	}
	for _, a := range rel.assets {
		if a.name == name {
			return
		}
	}
	a := &asset{id: s.id("asset"), name: name, contentType: req.Header.Get("Content-Type"), state: "starter", data: body, created: s.timestamp()}
	a.updated = a.created
	rel.assets = append(rel.assets, a)
}

// download serves an asset's bytes on the storage host, which (like the
// object store GitHub redirects to) refuses requests that carry an
// Authorization header.
func (s *Server) download(w http.ResponseWriter, req *http.Request, parts []string) {
	if req.Header.Get("Authorization") != "" {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message></Error>`)
		return
	}
	if req.Method == http.MethodGet && len(parts) == 4 && parts[0] == "att" {
		s.downloadBundle(w, parts)
		return
	}
	// /dl/{owner}/{repo}/{id}/{name}
	if req.Method != http.MethodGet || len(parts) != 5 || parts[0] != "dl" {
		s.unexpected(w, req)
		return
	}
	r, ok := s.repos[parts[1]+"/"+parts[2]]
	if !ok {
		notFound(w)
		return
	}
	_, _, a := r.asset(parts[3])
	if a == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	a.downloads++
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(a.data)))
	w.Write(a.data)
}
