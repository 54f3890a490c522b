package bump

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
)

// ErrNotFound is a missing branch (or file).
var ErrNotFound = errors.New("not found")

// TreeFile is a file of a commit's tree.
type TreeFile struct {
	Path, Mode, SHA string
	Size            int
}

// Pull is an open pull request.
type Pull struct {
	Number      int
	Title, Body string
	URL         string
	Labels      []string
}

// GitHub is the part of the GitHub API a bump uses: its Tree, and what
// pushes a branch and opens the pull request.
type GitHub interface {
	Tree
	CreateBlob(ctx context.Context, data []byte) (string, error)
	CreateTree(ctx context.Context, base string, files []TreeFile) (string, error)
	CreateCommit(ctx context.Context, message, tree string, parents []string) (string, error)
	CreateBranch(ctx context.Context, branch, sha string) error
	MoveBranch(ctx context.Context, branch, sha string) error
	OpenPull(ctx context.Context, branch string) (*Pull, error)
	CreatePull(ctx context.Context, title, body, head, base string) (*Pull, error)
	EditPull(ctx context.Context, number int, title, body string) error
	ClosePull(ctx context.Context, number int) error
	AddLabels(ctx context.Context, number int, labels []string) error
}

// API implements GitHub with go-github.
type API struct {
	C           *ghclient.Client
	Owner, Repo string
}

func notFound(err error) error {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

func (a *API) DefaultBranch(ctx context.Context) (string, error) {
	r, _, err := a.C.Repositories.Get(ctx, a.Owner, a.Repo)
	if err != nil {
		return "", err
	}
	return r.GetDefaultBranch(), nil
}

func (a *API) Head(ctx context.Context, branch string) (string, error) {
	ref, _, err := a.C.Git.GetRef(ctx, a.Owner, a.Repo, "refs/heads/"+branch)
	if err != nil {
		return "", notFound(err)
	}
	return ref.GetObject().GetSHA(), nil
}

func (a *API) Commit(ctx context.Context, sha string) (string, []string, []TreeFile, error) {
	c, _, err := a.C.Git.GetCommit(ctx, a.Owner, a.Repo, sha)
	if err != nil {
		return "", nil, nil, err
	}
	var parents []string
	for _, p := range c.Parents {
		parents = append(parents, p.GetSHA())
	}
	t, _, err := a.C.Git.GetTree(ctx, a.Owner, a.Repo, c.GetTree().GetSHA(), true)
	if err != nil {
		return "", nil, nil, err
	}
	if t.GetTruncated() {
		return "", nil, nil, fmt.Errorf("the repository's tree is too large for one listing (GitHub truncated it)")
	}
	var files []TreeFile
	for _, e := range t.Entries {
		if e.GetType() == "blob" {
			files = append(files, TreeFile{Path: e.GetPath(), Mode: e.GetMode(), SHA: e.GetSHA(), Size: e.GetSize()})
		}
	}
	return c.GetTree().GetSHA(), parents, files, nil
}

func (a *API) Blob(ctx context.Context, sha string) ([]byte, error) {
	b, _, err := a.C.Git.GetBlob(ctx, a.Owner, a.Repo, sha)
	if err != nil {
		return nil, err
	}
	if b.GetEncoding() != "base64" {
		return []byte(b.GetContent()), nil
	}
	return base64.StdEncoding.DecodeString(strings.ReplaceAll(b.GetContent(), "\n", ""))
}

func (a *API) CreateBlob(ctx context.Context, data []byte) (string, error) {
	b, _, err := a.C.Git.CreateBlob(ctx, a.Owner, a.Repo, &github.Blob{
		Content: github.String(base64.StdEncoding.EncodeToString(data)), Encoding: github.String("base64"),
	})
	if err != nil {
		return "", err
	}
	return b.GetSHA(), nil
}

func (a *API) CreateTree(ctx context.Context, base string, files []TreeFile) (string, error) {
	var entries []*github.TreeEntry
	for _, f := range files {
		entries = append(entries, &github.TreeEntry{Path: github.String(f.Path), Mode: github.String(f.Mode),
			Type: github.String("blob"), SHA: github.String(f.SHA)})
	}
	t, _, err := a.C.Git.CreateTree(ctx, a.Owner, a.Repo, base, entries)
	if err != nil {
		return "", err
	}
	return t.GetSHA(), nil
}

func (a *API) CreateCommit(ctx context.Context, message, tree string, parents []string) (string, error) {
	var ps []*github.Commit
	for _, p := range parents {
		ps = append(ps, &github.Commit{SHA: github.String(p)})
	}
	c, _, err := a.C.Git.CreateCommit(ctx, a.Owner, a.Repo, &github.Commit{
		Message: github.String(message), Tree: &github.Tree{SHA: github.String(tree)}, Parents: ps,
	}, nil)
	if err != nil {
		return "", err
	}
	return c.GetSHA(), nil
}

func (a *API) CreateBranch(ctx context.Context, branch, sha string) error {
	_, _, err := a.C.Git.CreateRef(ctx, a.Owner, a.Repo, &github.Reference{
		Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)},
	})
	return err
}

// MoveBranch force-moves the bump's own branch: it is rebuilt on the base
// branch each time.
func (a *API) MoveBranch(ctx context.Context, branch, sha string) error {
	_, _, err := a.C.Git.UpdateRef(ctx, a.Owner, a.Repo, &github.Reference{
		Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)},
	}, true)
	return err
}

func (a *API) OpenPull(ctx context.Context, branch string) (*Pull, error) {
	prs, _, err := a.C.PullRequests.List(ctx, a.Owner, a.Repo, &github.PullRequestListOptions{
		State: "open", Head: a.Owner + ":" + branch, ListOptions: github.ListOptions{PerPage: 10},
	})
	if err != nil {
		return nil, err
	}
	if len(prs) == 0 {
		return nil, nil
	}
	return fromPR(prs[0]), nil
}

func fromPR(p *github.PullRequest) *Pull {
	out := &Pull{Number: p.GetNumber(), Title: p.GetTitle(), Body: p.GetBody(), URL: p.GetHTMLURL()}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

func (a *API) CreatePull(ctx context.Context, title, body, head, base string) (*Pull, error) {
	p, _, err := a.C.PullRequests.Create(ctx, a.Owner, a.Repo, &github.NewPullRequest{
		Title: &title, Body: &body, Head: &head, Base: &base,
	})
	if err != nil {
		return nil, err
	}
	return fromPR(p), nil
}

func (a *API) EditPull(ctx context.Context, number int, title, body string) error {
	_, _, err := a.C.PullRequests.Edit(ctx, a.Owner, a.Repo, number, &github.PullRequest{Title: &title, Body: &body})
	return err
}

func (a *API) ClosePull(ctx context.Context, number int) error {
	_, _, err := a.C.PullRequests.Edit(ctx, a.Owner, a.Repo, number, &github.PullRequest{State: github.String("closed")})
	return err
}

func (a *API) AddLabels(ctx context.Context, number int, labels []string) error {
	_, _, err := a.C.Issues.AddLabelsToIssue(ctx, a.Owner, a.Repo, number, labels)
	return err
}
