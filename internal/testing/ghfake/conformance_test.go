package ghfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// exchange is one recorded request and GitHub's answer (octokit's
// fixtures format).
type exchange struct {
	Scope      string         `json:"scope"`
	Method     string         `json:"method"`
	Path       string         `json:"path"`
	Body       any            `json:"body"`
	Status     int            `json:"status"`
	ReqHeaders map[string]any `json:"reqheaders"`
	Headers    map[string]any `json:"headers"`
	Response   any            `json:"response"`
}

// seed puts a fixture's repository in the state GitHub had before the
// recording; before[i] changes it just before exchange i, as another
// client did during the recording.
type seed struct {
	init   func(s *Server)
	before map[int]func(s *Server)
}

var seeds = map[string]seed{
	"create-file.json": {init: func(s *Server) { s.CreateRepo("octokit-fixture-org/create-file", "main") }},
	"errors.json":      {init: func(s *Server) { s.CreateRepo("octokit-fixture-org/errors", "main") }},
	"get-content.json": {init: func(s *Server) {
		s.CreateRepo("octokit-fixture-org/hello-world", "master")
		s.CommitFiles("octokit-fixture-org/hello-world", "master", "initial", map[string]string{"README.md": "# hello-world"})
	}},
	"git-refs.json": {init: func(s *Server) {
		// The test ref is made at main's parent, then fast-forwarded.
		const name = "octokit-fixture-org/git-refs"
		s.CreateRepo(name, "main")
		s.AddCommitSHA(name, "0000000000000000000000000000000000000002")
		s.AddCommitSHA(name, "0000000000000000000000000000000000000001", "0000000000000000000000000000000000000002")
		s.SetRef(name, "refs/heads/main", "0000000000000000000000000000000000000001")
	}},
	"labels.json":          {init: func(s *Server) { s.AddDefaultLabels("octokit-fixture-org/labels") }},
	"paginate-issues.json": {init: func(s *Server) { s.AddIssues("octokit-fixture-org/paginate-issues", 13) }},
	"release-assets.json": {init: func(s *Server) {
		s.CreateRelease("octokit-fixture-org/release-assets", "v1.0.0", "Version 1.0.0", "Initial release")
	}},
	// The release has no assets when read; a concurrent uploader's file
	// then makes the upload fail with 422 already_exists.
	"release-assets-conflict.json": {
		init: func(s *Server) {
			s.CreateRelease("octokit-fixture-org/release-assets-conflict", "v1.0.0", "Version 1.0.0", "Initial release")
		},
		before: map[int]func(s *Server){1: func(s *Server) {
			s.AddAsset("octokit-fixture-org/release-assets-conflict", 1000, "test-upload.txt", "test", []byte("Hello, world!\n"))
		}},
	},
}

// compared are the fields whose values (not only presence) must match.
var compared = map[string]bool{
	"name": true, "label": true, "state": true, "size": true, "tag_name": true, "message": true,
	"errors": true, "number": true, "title": true, "color": true, "default": true, "type": true,
	"path": true, "ref": true, "draft": true, "prerelease": true, "body": true, "description": true,
	"encoding": true, "sha": true,
}

// placeholder matches the made-up values of the recordings.
var placeholder = regexp.MustCompile(`^0{20,}[0-9]*$`)

// TestConformance replays the real recorded GitHub exchanges in
// ../shared/github-fixtures against the fake: same statuses, same JSON
// fields, same values where they are not ids, dates or URLs.
func TestConformance(t *testing.T) {
	dir := testenv.Input(t, "github-fixtures")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("%s holds no recorded exchanges (*.json)", dir)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			seed, ok := seeds[name]
			if !ok {
				t.Fatalf("no seed for %s: every fixture must be replayed", name)
			}
			var xs []exchange
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &xs); err != nil {
				t.Fatal(err)
			}
			s := New(t)
			seed.init(s)
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for i, x := range xs {
				if f := seed.before[i]; f != nil {
					f(s)
				}
				base := s.URL
				if strings.Contains(x.Scope, "uploads.") {
					base = s.Uploads.URL
				}
				var body io.Reader
				switch b := x.Body.(type) {
				case string:
					body = strings.NewReader(b)
				case nil:
				default:
					j, _ := json.Marshal(b)
					body = bytes.NewReader(j)
				}
				req, _ := http.NewRequest(strings.ToUpper(x.Method), base+x.Path, body)
				for _, h := range []string{"accept", "content-type"} {
					if v, ok := x.ReqHeaders[h].(string); ok {
						req.Header.Set(h, v)
					}
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%d %s %s: %v", i, x.Method, x.Path, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				where := fmt.Sprintf("exchange %d (%s %s)", i, x.Method, x.Path)
				if resp.StatusCode != x.Status {
					t.Errorf("%s: status %d, GitHub %d: %s", where, resp.StatusCode, x.Status, got)
					continue
				}
				if want, _ := x.Headers["link"].(string); want != "" {
					if g := resp.Header.Get("Link"); rels(g) != rels(want) {
						t.Errorf("%s: Link rels %s, GitHub %s", where, rels(g), rels(want))
					}
				}
				if ws, ok := x.Response.(string); ok {
					if ws != "" && string(got) != ws {
						t.Errorf("%s: body %q, GitHub %q", where, got, ws)
					}
					continue
				}
				var g any
				if err := json.Unmarshal(got, &g); err != nil {
					t.Errorf("%s: not JSON: %s", where, got)
					continue
				}
				for _, d := range diff(x.Response, g, "", false) {
					t.Errorf("%s: %s", where, d)
				}
			}
		})
	}
}

// rels lists a Link header's rel names with their page numbers.
func rels(link string) string {
	var out []string
	for _, m := range regexp.MustCompile(`[?&]page=(\d+)[^>]*>; rel="(\w+)"`).FindAllStringSubmatch(link, -1) {
		out = append(out, m[2]+"="+m[1])
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// identities hold who did something: the recording's accounts, not the
// fake's, so only their shape is compared.
var identities = map[string]bool{"author": true, "committer": true, "user": true, "uploader": true}

// diff compares GitHub's JSON (want) with the fake's: the same keys at
// every level, the same list lengths, and equal values for compared keys
// (outside identities).
func diff(want, got any, at string, identity bool) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: object in GitHub's answer, %T in the fake's", at, got)}
		}
		var out []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", at, k))
				continue
			}
			if compared[k] && !identity {
				if s, isStr := wv.(string); !(isStr && placeholder.MatchString(s)) && !reflect.DeepEqual(wv, gv) {
					if _, obj := wv.(map[string]any); !obj {
						out = append(out, fmt.Sprintf("%s.%s = %v, GitHub %v", at, k, gv, wv))
						continue
					}
				}
			}
			out = append(out, diff(wv, gv, at+"."+k, identity || identities[k])...)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: not in GitHub's answer", at, k))
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: list in GitHub's answer, %T in the fake's", at, got)}
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %d items, GitHub %d", at, len(g), len(w))}
		}
		var out []string
		for i := range w {
			out = append(out, diff(w[i], g[i], fmt.Sprintf("%s[%d]", at, i), identity)...)
		}
		return out
	}
	return nil
}
