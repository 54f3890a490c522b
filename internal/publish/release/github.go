package release

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// Errors the sync reacts to.
var (
	ErrNotFound = errors.New("not found")
	// ErrExists is GitHub's 422 already_exists: a release for the tag,
	// or an asset of that name.
	ErrExists = errors.New("already exists")
)

// Release is what the sync needs of a GitHub release.
type Release struct {
	ID        int64
	Tag       string
	Body      string
	UploadURL string
	HTMLURL   string
}

// Asset is a release asset.
type Asset struct {
	ID    int64
	Name  string
	State string
	Size  int
	// Label is the asset's label (SHA256SUMS names the manifest.json it
	// was made from there).
	Label string
}

// GitHub is the part of the GitHub API the sync uses.
type GitHub interface {
	// GetRelease finds the release for a tag ("" for the latest).
	GetRelease(ctx context.Context, tag string) (*Release, error)
	CreateRelease(ctx context.Context, tag string) (*Release, error)
	EditBody(ctx context.Context, id int64, body string) error
	ListAssets(ctx context.Context, releaseID int64) ([]Asset, error)
	Download(ctx context.Context, assetID int64) ([]byte, error)
	Upload(ctx context.Context, rel *Release, name, label, contentType string, data []byte) (Asset, error)
	Delete(ctx context.Context, assetID int64) error
	Rename(ctx context.Context, assetID int64, name string) error
}

// API implements GitHub with go-github.
type API struct {
	C           *ghclient.Client
	Owner, Repo string
	// Cache, when set, keeps downloaded assets by API host, repository
	// and ID (an asset's bytes never change: replacing one makes a new
	// ID), so a reader that comes back (plan --new every hour) downloads
	// each once. IDs are GitHub's per host: another GitHub (Enterprise
	// Server, a test's fake) numbers its assets afresh.
	Cache string
}

func (a *API) GetRelease(ctx context.Context, tag string) (*Release, error) {
	var rel *github.RepositoryRelease
	var err error
	if tag == "" {
		rel, _, err = a.C.Repositories.GetLatestRelease(ctx, a.Owner, a.Repo)
	} else {
		rel, _, err = a.C.Repositories.GetReleaseByTag(ctx, a.Owner, a.Repo, tag)
	}
	if err != nil {
		return nil, classify(err)
	}
	return fromGitHub(rel), nil
}

func (a *API) CreateRelease(ctx context.Context, tag string) (*Release, error) {
	// The release collecting builds is never the repository's "Latest"
	// release: that stays the maintainer's own versioned release.
	rel, _, err := a.C.Repositories.CreateRelease(ctx, a.Owner, a.Repo, &github.RepositoryRelease{
		TagName: &tag, Name: &tag, MakeLatest: github.String("false"),
	})
	if err != nil {
		return nil, classify(err)
	}
	return fromGitHub(rel), nil
}

func fromGitHub(r *github.RepositoryRelease) *Release {
	return &Release{ID: r.GetID(), Tag: r.GetTagName(), Body: r.GetBody(), UploadURL: r.GetUploadURL(), HTMLURL: r.GetHTMLURL()}
}

func (a *API) EditBody(ctx context.Context, id int64, body string) error {
	_, _, err := a.C.Repositories.EditRelease(ctx, a.Owner, a.Repo, id, &github.RepositoryRelease{Body: &body})
	return classify(err)
}

func (a *API) ListAssets(ctx context.Context, releaseID int64) ([]Asset, error) {
	var out []Asset
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := a.C.Repositories.ListReleaseAssets(ctx, a.Owner, a.Repo, releaseID, opts)
		if err != nil {
			return nil, classify(err)
		}
		for _, x := range page {
			out = append(out, Asset{ID: x.GetID(), Name: x.GetName(), State: x.GetState(), Size: x.GetSize(), Label: x.GetLabel()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// maxDownload bounds an asset read into memory; maxIndexSize the
// manifests and index, text of a few hundred bytes per build (4,800
// builds: under 3 MiB), checked against the listed size before download.
const (
	maxDownload  = 256 << 20
	maxIndexSize = 32 << 20
)

// Download fetches an asset's bytes: the API answers with a redirect to
// storage, which a.C.HTTP follows without the token. (go-github's
// DownloadReleaseAsset swaps the shared client's redirect policy, which
// races with concurrent requests.)
func (a *API) Download(ctx context.Context, assetID int64) ([]byte, error) {
	kept := ""
	if a.Cache != "" {
		kept = filepath.Join(a.Cache, "assets", safeHost(a.C.Client.BaseURL.Host), a.Owner+"-"+a.Repo+"-"+strconv.FormatInt(assetID, 10))
		if b, err := userfile.Read(kept, maxDownload); err == nil {
			return b, nil
		}
	}
	b, err := a.download(ctx, assetID)
	if err == nil && kept != "" {
		// The cache only saves requests; failing to write it is not an error.
		if os.MkdirAll(filepath.Dir(kept), 0o755) == nil {
			atomicfile.Write(kept, b, 0o644)
		}
	}
	return b, err
}

// safeHost is an API host as one path element (host:port -> host_port).
func safeHost(h string) string {
	return strings.NewReplacer(":", "_", "/", "_", "..", "_").Replace(cmp.Or(h, "api"))
}

func (a *API) download(ctx context.Context, assetID int64) ([]byte, error) {
	req, err := a.C.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/releases/assets/%d", a.Owner, a.Repo, assetID), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/octet-stream")
	resp, err := a.C.HTTP.Do(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := github.CheckResponse(resp); err != nil {
		return nil, classify(err)
	}
	return fetch.Body(resp, maxDownload)
}

var uploadTemplate = regexp.MustCompile(`\{[^}]*\}$`)

// Upload posts to the release's upload_url template, as GitHub documents.
func (a *API) Upload(ctx context.Context, rel *Release, name, label, contentType string, data []byte) (Asset, error) {
	u, err := url.Parse(uploadTemplate.ReplaceAllString(rel.UploadURL, ""))
	if err != nil || u.Host == "" {
		return Asset{}, fmt.Errorf("release %s has no usable upload_url %q", rel.Tag, rel.UploadURL)
	}
	// The token goes with the upload: only to the configured uploads
	// host, whatever upload_url the API answered.
	if u.Host != a.C.UploadHost() || (u.Scheme != "https" && u.Scheme != "http") {
		return Asset{}, fmt.Errorf("release %s: upload_url %q is not on the uploads host %s: refused (the token is sent only there)", rel.Tag, rel.UploadURL, a.C.UploadHost())
	}
	q := u.Query()
	q.Set("name", name)
	if label != "" {
		q.Set("label", label)
	}
	u.RawQuery = q.Encode()
	req, err := a.C.NewUploadRequest(u.String(), bytes.NewReader(data), int64(len(data)), contentType)
	if err != nil {
		return Asset{}, err
	}
	var x github.ReleaseAsset
	if _, err := a.C.Do(ctx, req, &x); err != nil {
		return Asset{}, classify(err)
	}
	return Asset{ID: x.GetID(), Name: x.GetName(), State: x.GetState(), Size: x.GetSize(), Label: x.GetLabel()}, nil
}

func (a *API) Delete(ctx context.Context, assetID int64) error {
	_, err := a.C.Repositories.DeleteReleaseAsset(ctx, a.Owner, a.Repo, assetID)
	return classify(err)
}

func (a *API) Rename(ctx context.Context, assetID int64, name string) error {
	_, _, err := a.C.Repositories.EditReleaseAsset(ctx, a.Owner, a.Repo, assetID, &github.ReleaseAsset{Name: &name})
	return classify(err)
}

// classify maps GitHub's answers the sync reacts to onto ErrNotFound and
// ErrExists, keeping the original error for the message.
func classify(err error) error {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return err
	}
	switch er.Response.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case http.StatusUnprocessableEntity:
		for _, e := range er.Errors {
			if e.Code == "already_exists" {
				return fmt.Errorf("%w: %v", ErrExists, err)
			}
		}
	}
	return err
}
