package ghfake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// wrap64 encodes like GitHub's contents API: base64 in lines of 60.
func wrap64(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	b.WriteString(enc)
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

func (s *Server) contentJSON(r *repo, ref, p string, e treeEntry, size int) map[string]any {
	kind := "file"
	if e.kind == "tree" {
		kind = "dir"
	}
	self := s.repoURL(r) + "/contents/" + p + "?ref=" + ref
	git := s.repoURL(r) + "/git/" + e.kind + "s/" + e.sha
	html := "https://github.com/" + r.name + "/blob/" + ref + "/" + p
	var download any = "https://raw.githubusercontent.com/" + r.name + "/" + ref + "/" + p
	if kind == "dir" {
		download = nil
		html = "https://github.com/" + r.name + "/tree/" + ref + "/" + p
	}
	return map[string]any{
		"name": path.Base(p), "path": p, "sha": e.sha, "size": size, "url": self, "html_url": html,
		"git_url": git, "download_url": download, "type": kind,
		"_links": map[string]any{"self": self, "git": git, "html": html},
	}
}

func (s *Server) getContents(w http.ResponseWriter, req *http.Request, r *repo, p string) {
	ref := req.URL.Query().Get("ref")
	if ref == "" {
		ref = r.defaultBranch
	}
	sha, ok := r.resolve(ref)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "No commit found for the ref " + ref,
			"documentation_url": "https://docs.github.com/rest/repos/contents#get-repository-content"})
		return
	}
	tree := r.objects[sha].tree
	// Walk to the entry.
	cur := treeEntry{kind: "tree", sha: tree}
	if p != "" {
		for _, name := range strings.Split(p, "/") {
			found := false
			if cur.kind == "tree" {
				for _, e := range r.objects[cur.sha].entries {
					if e.name == name {
						cur, found = e, true
						break
					}
				}
			}
			if !found {
				notFound(w)
				return
			}
		}
	}
	if cur.kind == "tree" {
		list := []map[string]any{}
		for _, e := range r.objects[cur.sha].entries {
			size := 0
			if e.kind == "blob" {
				size = len(r.objects[e.sha].data)
			}
			list = append(list, s.contentJSON(r, ref, path.Join(p, e.name), e, size))
		}
		writeItem(w, req, http.StatusOK, list)
		return
	}
	data := r.objects[cur.sha].data
	if strings.HasSuffix(req.Header.Get("Accept"), ".raw") {
		w.Header().Set("Content-Type", "application/vnd.github.v3.raw; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
		return
	}
	item := s.contentJSON(r, ref, p, cur, len(data))
	item["content"], item["encoding"] = wrap64(data), "base64"
	writeItem(w, req, http.StatusOK, item)
}

func (s *Server) putContents(w http.ResponseWriter, req *http.Request, r *repo, p string, body []byte) {
	var in struct {
		Message, Content, Branch, SHA string
	}
	if json.Unmarshal(body, &in) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	data, err := base64.StdEncoding.DecodeString(in.Content)
	if err != nil {
		gitError(w, http.StatusUnprocessableEntity, "content is not valid Base64")
		return
	}
	branch := in.Branch
	if branch == "" {
		branch = r.defaultBranch
	}
	all := map[string]treeEntry{}
	var parents []string
	if head, ok := r.refs["refs/heads/"+branch]; ok {
		parents = []string{head}
		r.files(r.objects[head].tree, "", all)
	}
	status := http.StatusCreated
	if old, ok := all[p]; ok {
		if in.SHA == "" {
			gitError(w, http.StatusUnprocessableEntity, `Invalid request.

"sha" wasn't supplied.`)
			return
		}
		if in.SHA != old.sha {
			gitError(w, http.StatusConflict, p+" does not match "+in.SHA)
			return
		}
		status = http.StatusOK
	}
	e := treeEntry{mode: "100644", kind: "blob", sha: r.putBlob(data)}
	all[p] = e
	commit := r.putCommit(r.buildTree(all), parents, in.Message, s.timestamp())
	r.refs["refs/heads/"+branch] = commit
	content := s.contentJSON(r, branch, p, e, len(data))
	c := s.commitJSON(r, commit)
	writeJSON(w, status, map[string]any{"content": content, "commit": c})
}
