package ghfake

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
)

// object is a git object, named by its real git SHA-1.
type object struct {
	kind string // blob, tree, commit
	// blob
	data []byte
	// tree
	entries []treeEntry
	// commit
	tree, message, date string
	parents             []string
}

type treeEntry struct {
	name, mode, kind, sha string
}

func gitHash(kind string, body []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", kind, len(body))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func (r *repo) putBlob(data []byte) string {
	sha := gitHash("blob", data)
	r.objects[sha] = &object{kind: "blob", data: data}
	return sha
}

func (r *repo) putTree(entries []treeEntry) string {
	sort.Slice(entries, func(i, j int) bool { return sortName(entries[i]) < sortName(entries[j]) })
	var b []byte
	for _, e := range entries {
		mode := strings.TrimPrefix(e.mode, "0")
		raw, _ := hex.DecodeString(e.sha)
		b = append(b, mode+" "+e.name+"\x00"...)
		b = append(b, raw...)
	}
	sha := gitHash("tree", b)
	r.objects[sha] = &object{kind: "tree", entries: entries}
	return sha
}

// git sorts a tree's entries by name, directories as if named "name/".
func sortName(e treeEntry) string {
	if e.kind == "tree" {
		return e.name + "/"
	}
	return e.name
}

func (r *repo) putCommit(tree string, parents []string, message, date string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tree %s\n", tree)
	for _, p := range parents {
		fmt.Fprintf(&b, "parent %s\n", p)
	}
	fmt.Fprintf(&b, "author nginx-modbuild-bot <bot@example.com> %s +0000\n", date)
	fmt.Fprintf(&b, "committer nginx-modbuild-bot <bot@example.com> %s +0000\n\n%s", date, message)
	sha := gitHash("commit", []byte(b.String()))
	r.objects[sha] = &object{kind: "commit", tree: tree, parents: parents, message: message, date: date}
	return sha
}

// files flattens a tree to path -> blob entry.
func (r *repo) files(tree, prefix string, out map[string]treeEntry) {
	t, ok := r.objects[tree]
	if !ok || t.kind != "tree" {
		return
	}
	for _, e := range t.entries {
		p := path.Join(prefix, e.name)
		if e.kind == "tree" {
			r.files(e.sha, p, out)
		} else {
			e.name = p
			out[p] = e
		}
	}
}

// buildTree makes nested trees from path -> blob entries.
func (r *repo) buildTree(files map[string]treeEntry) string {
	type dir struct {
		files map[string]treeEntry
		dirs  map[string]bool
	}
	dirs := map[string]*dir{"": {files: map[string]treeEntry{}, dirs: map[string]bool{}}}
	var ensure func(p string) *dir
	ensure = func(p string) *dir {
		if d, ok := dirs[p]; ok {
			return d
		}
		d := &dir{files: map[string]treeEntry{}, dirs: map[string]bool{}}
		dirs[p] = d
		parent := path.Dir(p)
		if parent == "." {
			parent = ""
		}
		ensure(parent).dirs[p] = true
		return d
	}
	for p, e := range files {
		parent := path.Dir(p)
		if parent == "." {
			parent = ""
		}
		e.name = path.Base(p)
		ensure(parent).files[e.name] = e
	}
	var build func(p string) string
	build = func(p string) string {
		d := dirs[p]
		var entries []treeEntry
		for _, e := range d.files {
			entries = append(entries, e)
		}
		for sub := range d.dirs {
			entries = append(entries, treeEntry{name: path.Base(sub), mode: "040000", kind: "tree", sha: build(sub)})
		}
		return r.putTree(entries)
	}
	return build("")
}

// resolve turns a branch, tag or commit SHA into a commit SHA.
func (r *repo) resolve(ref string) (string, bool) {
	if ref == "" {
		ref = r.defaultBranch
	}
	for _, full := range []string{"refs/heads/" + ref, "refs/tags/" + ref, ref} {
		if sha, ok := r.refs[full]; ok {
			return sha, true
		}
	}
	if o, ok := r.objects[ref]; ok && o.kind == "commit" {
		return ref, true
	}
	return "", false
}

// CommitFiles commits files (path -> content; "" deletes nothing, content
// is written as is) on top of branch, creating the branch if needed, and
// returns the commit SHA: a test's starting state.
func (s *Server) CommitFiles(name, branch, message string, files map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(name)
	all := map[string]treeEntry{}
	var parents []string
	if head, ok := r.refs["refs/heads/"+branch]; ok {
		parents = []string{head}
		r.files(r.objects[head].tree, "", all)
	}
	for p, content := range files {
		all[p] = treeEntry{mode: "100644", kind: "blob", sha: r.putBlob([]byte(content))}
	}
	sha := r.putCommit(r.buildTree(all), parents, message, s.timestamp())
	r.refs["refs/heads/"+branch] = sha
	return sha
}

// AddCommitSHA registers an empty commit under a given SHA, with parents
// (recorded fixtures use made-up SHAs).
func (s *Server) AddCommitSHA(name, sha string, parents ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(name)
	r.objects[sha] = &object{kind: "commit", tree: r.buildTree(nil), parents: parents, date: s.timestamp()}
}

// SetRef points a ref ("refs/heads/main") at a SHA.
func (s *Server) SetRef(name, ref, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(name).refs[ref] = sha
}

// Ref returns where a ref points ("" if it does not exist).
func (s *Server) Ref(name, ref string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[name]; ok {
		return r.refs[ref]
	}
	return ""
}

// File returns a file's content at a branch, tag or commit.
func (s *Server) File(name, ref, p string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return "", false
	}
	sha, ok := r.resolve(ref)
	if !ok {
		return "", false
	}
	all := map[string]treeEntry{}
	r.files(r.objects[sha].tree, "", all)
	e, ok := all[p]
	if !ok {
		return "", false
	}
	return string(r.objects[e.sha].data), true
}

// Commit returns a commit's message and parents.
func (s *Server) Commit(name, sha string) (message string, parents []string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, found := s.repos[name]
	if !found {
		return "", nil, false
	}
	o, found := r.objects[sha]
	if !found || o.kind != "commit" {
		return "", nil, false
	}
	return o.message, o.parents, true
}

func (s *Server) refJSON(r *repo, ref string) map[string]any {
	sha := r.refs[ref]
	kind := "commit"
	if o, ok := r.objects[sha]; ok {
		kind = o.kind
	}
	return map[string]any{
		"ref": ref, "node_id": "REF_" + ref, "url": s.repoURL(r) + "/git/" + ref,
		"object": map[string]any{"sha": sha, "type": kind, "url": s.repoURL(r) + "/git/" + kind + "s/" + sha},
	}
}

func (s *Server) commitJSON(r *repo, sha string) map[string]any {
	c := r.objects[sha]
	parents := []any{}
	for _, p := range c.parents {
		parents = append(parents, map[string]any{"sha": p, "url": s.repoURL(r) + "/git/commits/" + p,
			"html_url": "https://github.com/" + r.name + "/commit/" + p})
	}
	who := map[string]any{"name": "nginx-modbuild-bot", "email": "bot@example.com", "date": c.date}
	return map[string]any{
		"sha": sha, "node_id": "C_" + sha, "url": s.repoURL(r) + "/git/commits/" + sha,
		"html_url": "https://github.com/" + r.name + "/commit/" + sha,
		"author":   who, "committer": who, "message": c.message,
		"tree":         map[string]any{"sha": c.tree, "url": s.repoURL(r) + "/git/trees/" + c.tree},
		"parents":      parents,
		"verification": map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil},
	}
}

func (s *Server) treeJSON(r *repo, sha string, recursive bool) map[string]any {
	entries := []any{}
	var add func(tree, prefix string)
	add = func(tree, prefix string) {
		for _, e := range r.objects[tree].entries {
			p := path.Join(prefix, e.name)
			item := map[string]any{"path": p, "mode": e.mode, "type": e.kind, "sha": e.sha,
				"url": s.repoURL(r) + "/git/" + e.kind + "s/" + e.sha}
			if e.kind == "blob" {
				item["size"] = len(r.objects[e.sha].data)
			}
			entries = append(entries, item)
			if recursive && e.kind == "tree" {
				add(e.sha, p)
			}
		}
	}
	add(sha, "")
	return map[string]any{"sha": sha, "url": s.repoURL(r) + "/git/trees/" + sha, "tree": entries, "truncated": false}
}

func gitError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest/git"})
}

func (s *Server) routeGit(w http.ResponseWriter, req *http.Request, r *repo, rest []string, body []byte) bool {
	if len(rest) == 0 {
		return false
	}
	m := req.Method
	switch rest[0] {
	case "ref": // GET /git/ref/{ref}: one ref
		ref := "refs/" + strings.Join(rest[1:], "/")
		if m != http.MethodGet {
			return false
		}
		if _, ok := r.refs[ref]; !ok {
			notFound(w)
			return true
		}
		writeItem(w, req, http.StatusOK, s.refJSON(r, ref))
	case "refs":
		ref := strings.Join(append([]string{"refs"}, rest[1:]...), "/")
		switch m {
		case http.MethodGet: // refs matching a prefix
			var names []string
			for name := range r.refs {
				if name == ref || strings.HasPrefix(name, ref+"/") || ref == "refs" {
					names = append(names, name)
				}
			}
			sort.Strings(names)
			list := []map[string]any{}
			for _, n := range names {
				list = append(list, s.refJSON(r, n))
			}
			page(s, w, req, list, "")
		case http.MethodPost:
			var in struct{ Ref, SHA string }
			json.Unmarshal(body, &in)
			if !strings.HasPrefix(in.Ref, "refs/") || strings.Count(in.Ref, "/") < 2 {
				gitError(w, http.StatusUnprocessableEntity, "Reference name must start with 'refs/' and have at least two slashes.")
				return true
			}
			if _, ok := r.objects[in.SHA]; !ok {
				gitError(w, http.StatusUnprocessableEntity, "Object does not exist")
				return true
			}
			if _, ok := r.refs[in.Ref]; ok {
				gitError(w, http.StatusUnprocessableEntity, "Reference already exists")
				return true
			}
			r.refs[in.Ref] = in.SHA
			w.Header().Set("Location", s.repoURL(r)+"/git/"+in.Ref)
			writeJSON(w, http.StatusCreated, s.refJSON(r, in.Ref))
		case http.MethodPatch:
			var in struct {
				SHA   string
				Force bool
			}
			json.Unmarshal(body, &in)
			old, ok := r.refs[ref]
			if !ok {
				gitError(w, http.StatusUnprocessableEntity, "Reference does not exist")
				return true
			}
			if _, ok := r.objects[in.SHA]; !ok {
				gitError(w, http.StatusUnprocessableEntity, "Object does not exist")
				return true
			}
			if !in.Force && !r.ancestor(old, in.SHA) {
				gitError(w, http.StatusUnprocessableEntity, "Update is not a fast forward")
				return true
			}
			r.refs[ref] = in.SHA
			writeJSON(w, http.StatusOK, s.refJSON(r, ref))
		case http.MethodDelete:
			if _, ok := r.refs[ref]; !ok {
				gitError(w, http.StatusUnprocessableEntity, "Reference does not exist")
				return true
			}
			delete(r.refs, ref)
			w.WriteHeader(http.StatusNoContent)
		default:
			return false
		}
	case "blobs":
		switch {
		case m == http.MethodPost && len(rest) == 1:
			var in struct{ Content, Encoding string }
			if json.Unmarshal(body, &in) != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
				return true
			}
			data := []byte(in.Content)
			if in.Encoding == "base64" {
				var err error
				if data, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
					gitError(w, http.StatusUnprocessableEntity, "content is not valid Base64")
					return true
				}
			}
			sha := r.putBlob(data)
			writeJSON(w, http.StatusCreated, map[string]any{"sha": sha, "url": s.repoURL(r) + "/git/blobs/" + sha})
		case m == http.MethodGet && len(rest) == 2:
			o, ok := r.objects[rest[1]]
			if !ok || o.kind != "blob" {
				notFound(w)
				return true
			}
			writeItem(w, req, http.StatusOK, map[string]any{"sha": rest[1], "node_id": "B_" + rest[1], "size": len(o.data),
				"url": s.repoURL(r) + "/git/blobs/" + rest[1], "content": wrap64(o.data), "encoding": "base64"})
		default:
			return false
		}
	case "trees":
		switch {
		case m == http.MethodPost && len(rest) == 1:
			var in struct {
				BaseTree string `json:"base_tree"`
				Tree     []struct {
					Path    string  `json:"path"`
					Mode    string  `json:"mode"`
					Type    string  `json:"type"`
					SHA     *string `json:"sha"`
					Content *string `json:"content"`
				} `json:"tree"`
			}
			if json.Unmarshal(body, &in) != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
				return true
			}
			all := map[string]treeEntry{}
			if in.BaseTree != "" {
				if o, ok := r.objects[in.BaseTree]; !ok || o.kind != "tree" {
					gitError(w, http.StatusUnprocessableEntity, "Invalid tree info")
					return true
				}
				r.files(in.BaseTree, "", all)
			}
			for _, e := range in.Tree {
				switch {
				case e.Content != nil:
					all[e.Path] = treeEntry{mode: e.Mode, kind: "blob", sha: r.putBlob([]byte(*e.Content))}
				case e.SHA == nil:
					delete(all, e.Path)
				default:
					if _, ok := r.objects[*e.SHA]; !ok {
						gitError(w, http.StatusUnprocessableEntity, "Invalid tree info")
						return true
					}
					all[e.Path] = treeEntry{mode: e.Mode, kind: "blob", sha: *e.SHA}
				}
			}
			sha := r.buildTree(all)
			writeJSON(w, http.StatusCreated, s.treeJSON(r, sha, false))
		case m == http.MethodGet && len(rest) == 2:
			o, ok := r.objects[rest[1]]
			if !ok || o.kind != "tree" {
				notFound(w)
				return true
			}
			writeItem(w, req, http.StatusOK, s.treeJSON(r, rest[1], req.URL.Query().Get("recursive") != ""))
		default:
			return false
		}
	case "commits":
		switch {
		case m == http.MethodPost && len(rest) == 1:
			var in struct {
				Message string   `json:"message"`
				Tree    string   `json:"tree"`
				Parents []string `json:"parents"`
			}
			if json.Unmarshal(body, &in) != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
				return true
			}
			if o, ok := r.objects[in.Tree]; !ok || o.kind != "tree" {
				gitError(w, http.StatusUnprocessableEntity, "Tree SHA does not exist")
				return true
			}
			for _, p := range in.Parents {
				if o, ok := r.objects[p]; !ok || o.kind != "commit" {
					gitError(w, http.StatusUnprocessableEntity, "Parent SHA does not exist or is not a commit object")
					return true
				}
			}
			sha := r.putCommit(in.Tree, in.Parents, in.Message, s.timestamp())
			writeJSON(w, http.StatusCreated, s.commitJSON(r, sha))
		case m == http.MethodGet && len(rest) == 2:
			o, ok := r.objects[rest[1]]
			if !ok || o.kind != "commit" {
				notFound(w)
				return true
			}
			writeItem(w, req, http.StatusOK, s.commitJSON(r, rest[1]))
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// ancestor reports whether old is new or one of its ancestors.
func (r *repo) ancestor(old, new string) bool {
	seen := map[string]bool{}
	queue := []string{new}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == old {
			return true
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		if o, ok := r.objects[c]; ok {
			queue = append(queue, o.parents...)
		}
	}
	return false
}
