package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
)

const defaultTimeout = 30 * time.Second

// tagLister is the part of go-github's RepositoriesService we use.
type tagLister interface {
	ListTags(ctx context.Context, owner, repo string, opts *github.ListOptions) ([]*github.RepositoryTag, *github.Response, error)
}

var _ tagLister = (*github.RepositoriesService)(nil)

// fromGitHub lists the tags through internal/platform/ghclient, the one GitHub
// client: retries with backoff on 5xx and secondary rate limits, the
// token only to the API host; hc's transport (the ETag cache) is below
// it, so a retry of an unchanged page is still a 304.
func fromGitHub(ctx context.Context, hc *http.Client, o Options) (Result, error) {
	if _, err := url.Parse(strings.TrimSuffix(o.APIURL, "/") + "/"); err != nil {
		return Result{Source: string(GitHub)}, fmt.Errorf("bad GitHub API URL %q: %w", o.APIURL, err)
	}
	c, err := ghclient.New(ghclient.Options{Token: o.Token, APIURL: o.APIURL, HTTP: hc, Sleep: o.Sleep, Logf: o.Logf,
		// A watch has a fallback (the download index): fail over sooner.
		MaxRetries: 2, MaxWait: 10 * time.Second})
	if err != nil {
		return Result{Source: string(GitHub)}, err
	}
	return listTags(ctx, c.Repositories)
}

// maxPages bounds pagination: nginx has about 600 tags, 6 pages of 100.
const maxPages = 100

func listTags(ctx context.Context, tl tagLister) (Result, error) {
	res := Result{Source: string(GitHub)}
	var candidates []string
	opts := &github.ListOptions{PerPage: 100}
	for page := 0; ; page++ {
		if page == maxPages {
			return res, fmt.Errorf("more than %d pages of tags", maxPages)
		}
		tags, resp, err := tl.ListTags(ctx, Owner, Repo, opts)
		if err != nil {
			return res, fmt.Errorf("list tags page %d: %w", opts.Page, err)
		}
		for _, t := range tags {
			m := tagName.FindStringSubmatch(t.GetName())
			if m == nil {
				res.Ignored++ // junk tags are never fatal
				continue
			}
			candidates = append(candidates, m[1])
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	rels, ignored := collect(candidates)
	res.Releases, res.Ignored = rels, res.Ignored+ignored
	if len(rels) == 0 {
		return res, fmt.Errorf("no release-X.Y.Z tags in %s/%s", Owner, Repo)
	}
	return res, nil
}
