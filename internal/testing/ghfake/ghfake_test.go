package ghfake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

func client(t *testing.T, s *Server) *github.Client {
	t.Helper()
	c := github.NewClient(nil)
	u, _ := url.Parse(s.URL + "/")
	c.BaseURL = u
	return c
}

// TestGitDataAndPulls drives the fake through go-github the way a bump
// does: read a file, commit a change with blobs, a tree and a commit,
// branch, open a pull request (a second is refused), move the branch.
func TestGitDataAndPulls(t *testing.T) {
	s := New(t)
	head := s.CommitFiles("acme/mod", "main", "initial", map[string]string{
		"Dockerfile": "ARG NGINX_VERSION=1.26.3\n", "ci/env.yml": "NGINX_VERSION: 1.26.3\n",
	})
	c := client(t, s)
	ctx := context.Background()

	fc, _, _, err := c.Repositories.GetContents(ctx, "acme", "mod", "ci/env.yml", &github.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := fc.GetContent(); text != "NGINX_VERSION: 1.26.3\n" {
		t.Errorf("content %q", text)
	}
	blob, _, err := c.Git.CreateBlob(ctx, "acme", "mod", &github.Blob{Content: github.String("NGINX_VERSION: 1.28.0\n"), Encoding: github.String("utf-8")})
	if err != nil {
		t.Fatal(err)
	}
	base, _, err := c.Git.GetCommit(ctx, "acme", "mod", head)
	if err != nil {
		t.Fatal(err)
	}
	tree, _, err := c.Git.CreateTree(ctx, "acme", "mod", base.GetTree().GetSHA(), []*github.TreeEntry{
		{Path: github.String("ci/env.yml"), Mode: github.String("100644"), Type: github.String("blob"), SHA: blob.SHA},
	})
	if err != nil {
		t.Fatal(err)
	}
	commit, _, err := c.Git.CreateCommit(ctx, "acme", "mod", &github.Commit{
		Message: github.String("Bump nginx"), Tree: tree, Parents: []*github.Commit{{SHA: github.String(head)}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Git.CreateRef(ctx, "acme", "mod", &github.Reference{Ref: github.String("refs/heads/bump"),
		Object: &github.GitObject{SHA: commit.SHA}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.File("acme/mod", "bump", "ci/env.yml"); got != "NGINX_VERSION: 1.28.0\n" {
		t.Errorf("bump branch has %q", got)
	}
	if got, _ := s.File("acme/mod", "bump", "Dockerfile"); got != "ARG NGINX_VERSION=1.26.3\n" {
		t.Errorf("untouched file became %q", got)
	}
	// The fake's SHAs are git's: git hashes the same blob the same way.
	if git, err := exec.LookPath("git"); err == nil {
		cmd := exec.Command(git, "hash-object", "--stdin")
		cmd.Stdin = strings.NewReader("NGINX_VERSION: 1.28.0\n")
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != blob.GetSHA() {
			t.Errorf("git hash-object = %s, fake %s (%v)", out, blob.GetSHA(), err)
		}
	}

	pr, _, err := c.PullRequests.Create(ctx, "acme", "mod", &github.NewPullRequest{
		Title: github.String("Bump nginx from 1.26.3 to 1.28.0"), Head: github.String("bump"), Base: github.String("main"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.PullRequests.Create(ctx, "acme", "mod", &github.NewPullRequest{
		Title: github.String("again"), Head: github.String("acme:bump"), Base: github.String("main"),
	})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(er.Errors[0].Message, "A pull request already exists for acme:bump.") {
		t.Errorf("duplicate pull request: %v", err)
	}
	open, _, err := c.PullRequests.List(ctx, "acme", "mod", &github.PullRequestListOptions{Head: "acme:bump", State: "open"})
	if err != nil || len(open) != 1 || open[0].GetNumber() != pr.GetNumber() || open[0].GetHead().GetSHA() != commit.GetSHA() {
		t.Fatalf("list by head: %v %+v", err, open)
	}
	if _, _, err := c.PullRequests.Edit(ctx, "acme", "mod", pr.GetNumber(), &github.PullRequest{Title: github.String("Bump nginx from 1.26.3 to 1.28.1")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Issues.AddLabelsToIssue(ctx, "acme", "mod", pr.GetNumber(), []string{"dependencies"}); err != nil {
		t.Fatal(err)
	}
	// A non-fast-forward move needs force.
	other := s.CommitFiles("acme/mod", "main", "unrelated", map[string]string{"README": "x"})
	if _, _, err := c.Git.UpdateRef(ctx, "acme", "mod", &github.Reference{Ref: github.String("refs/heads/bump"),
		Object: &github.GitObject{SHA: github.String(other)}}, false); err == nil {
		t.Error("non-fast-forward update accepted")
	}
	if _, _, err := c.Git.UpdateRef(ctx, "acme", "mod", &github.Reference{Ref: github.String("refs/heads/bump"),
		Object: &github.GitObject{SHA: github.String(other)}}, true); err != nil {
		t.Fatal(err)
	}
	p := s.Pulls("acme/mod")
	if len(p) != 1 || p[0].Title != "Bump nginx from 1.26.3 to 1.28.1" || p[0].HeadSHA != other || strings.Join(p[0].Labels, ",") != "dependencies" {
		t.Errorf("pulls = %+v", p)
	}
}

// TestETagAnd304 checks conditional requests on single resources.
func TestETagAnd304(t *testing.T) {
	s := New(t)
	s.CreateRelease("acme/mod", "v1", "v1", "")
	req, _ := http.NewRequest("GET", s.URL+"/repos/acme/mod/releases/tags/v1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("etag %q, conditional status %d", etag, resp.StatusCode)
	}
}

// TestIDToken: the OIDC host answers a job's token request as the Actions
// runtime does (the runtime token required, the audience asked for in the
// claims), and the API's token is no substitute for the runtime's.
func TestIDToken(t *testing.T) {
	s := New(t)
	s.RequireToken("api-token")
	get := func(auth string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, s.IDTokenURL("acme/mod")+"&audience=sigstore", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Value string }
		json.NewDecoder(resp.Body).Decode(&body)
		parts := strings.Split(body.Value, ".")
		if len(parts) != 3 {
			return resp.StatusCode, nil
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		json.Unmarshal(raw, &claims)
		return resp.StatusCode, claims
	}
	if code, _ := get("Bearer api-token"); code != http.StatusUnauthorized {
		t.Errorf("the API token got an ID token: %d", code)
	}
	code, claims := get("Bearer " + RuntimeToken)
	if code != http.StatusOK || claims["aud"] != "sigstore" || claims["repository"] != "acme/mod" ||
		claims["iss"] != "https://token.actions.githubusercontent.com" {
		t.Errorf("%d %v", code, claims)
	}
}
