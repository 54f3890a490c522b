package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/release"
)

// maxFile bounds a file read from a source (a .so); maxIndex the
// manifests and checksum lists, which are text of a few KiB per build.
const (
	maxFile  = 256 << 20
	maxIndex = 32 << 20
)

// capFor is the most a source may send for the file name.
func capFor(name string) int64 {
	if name == release.SumsName || strings.HasSuffix(name, ".json") {
		return maxIndex
	}
	return maxFile
}

// Dir is a directory holding a release's files (manifest.json,
// SHA256SUMS and the .so files), as release --dir writes it or a download
// of a release leaves it; or, with no manifest.json, build output: the
// cell manifests (at any depth) and the files beside each.
type Dir string

func (d Dir) Name() string { return "directory " + string(d) }

func (d Dir) Manifest(ctx context.Context) (*manifest.Manifest, error) {
	data, err := d.File(ctx, release.ManifestName)
	if errors.Is(err, fs.ErrNotExist) {
		m, _, berr := d.built()
		if berr != nil {
			return nil, fmt.Errorf("%w, and no build output: %w", err, berr)
		}
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	return manifest.Parse(filepath.Join(string(d), release.ManifestName), data)
}

func (d Dir) File(_ context.Context, name string) ([]byte, error) {
	if !filepath.IsLocal(name) || strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("%q is not a file name", name)
	}
	data, err := userfile.Read(filepath.Join(string(d), name), capFor(name))
	if !errors.Is(err, fs.ErrNotExist) || name == release.ManifestName || name == release.SumsName {
		return data, err
	}
	// Build output names a file by its cell manifest.
	_, paths, berr := d.built()
	if p, ok := paths[name]; berr == nil && ok {
		return userfile.Read(p, capFor(name))
	}
	return nil, err
}

// built reads build output: the cell manifests under d merged, with each
// entry named as its release asset, and where each asset's file is.
func (d Dir) built() (*manifest.Manifest, map[string]string, error) {
	cells, err := manifest.CellFiles(string(d))
	if err != nil {
		return nil, nil, err
	}
	if len(cells) == 0 {
		return nil, nil, fmt.Errorf("no cell manifests (manifest-*.json) under %s", string(d))
	}
	m := &manifest.Manifest{Schema: manifest.Schema}
	paths := map[string]string{}
	for _, c := range cells {
		cm, err := manifest.Read(c)
		if err != nil {
			return nil, nil, err
		}
		for i, e := range cm.Entries {
			if err := e.Check(); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", c, err)
			}
			cm.Entries[i].File = e.Asset()
			paths[e.Asset()] = filepath.Join(filepath.Dir(c), e.File)
		}
		m.Merge(cm)
	}
	return m, paths, nil
}

// URL is a base URL serving a release's files.
type URL struct {
	Base string
	HTTP *http.Client
	// Insecure accepts plain http (and a redirect from https to http).
	// The manifest, SHA256SUMS and the .so come from the same source, so
	// over plain http anyone on the path can replace all three together
	// and "verified" would mean nothing.
	Insecure bool
}

// ErrPlainHTTP is a plain-http source refused without Insecure.
var ErrPlainHTTP = errors.New("refusing a plain-http source: the manifest, SHA256SUMS and the .so files would all come unauthenticated from it, so their checksums prove nothing; use https, or --insecure to accept it anyway")

// Name is the base URL without credentials (it is printed).
func (u URL) Name() string {
	if p, err := url.Parse(u.Base); err == nil {
		return p.Redacted()
	}
	return "the --from URL"
}

func (u URL) Manifest(ctx context.Context) (*manifest.Manifest, error) {
	data, err := u.File(ctx, release.ManifestName)
	if err != nil {
		return nil, err
	}
	return manifest.Parse(u.Name()+"/"+release.ManifestName, data)
}

func (u URL) File(ctx context.Context, name string) ([]byte, error) {
	base, err := url.Parse(strings.TrimSuffix(u.Base, "/") + "/")
	if err != nil {
		return nil, err
	}
	ref, err := base.Parse(url.PathEscape(name))
	if err != nil {
		return nil, err
	}
	if ref.Scheme != "https" && !u.Insecure {
		return nil, fmt.Errorf("%s: %w", redacted(ref), ErrPlainHTTP)
	}
	client := *u.HTTP
	next := client.CheckRedirect
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if r.URL.Scheme != "https" && !u.Insecure {
			return fmt.Errorf("redirected to %s: %w", redacted(r.URL), ErrPlainHTTP)
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	limit := capFor(name)
	data, err := fetch.Get(ctx, &client, ref.String(), limit, nil)
	if errors.Is(err, fetch.ErrTooLarge) {
		return nil, fmt.Errorf("%w: over %d MiB, more than a %s can be", err, limit>>20, name)
	}
	return data, err
}

// redacted is a URL without its credentials, for messages.
func redacted(u *url.URL) string { return u.Redacted() }

// Release is a GitHub release's assets.
type Release struct {
	GH   release.GitHub
	Repo string
	Tag  string
	once sync.Once
	ids  map[string]int64
	// sizes are the listed sizes of the index release's assets: a file
	// larger than its kind can be is not downloaded.
	sizes map[string]int
	m     *manifest.Manifest
	err   error
}

func (r *Release) Name() string {
	tag := r.Tag
	if tag == "" {
		tag = "(latest)"
	}
	return "release " + tag + " of " + r.Repo
}

func (r *Release) load(ctx context.Context) error {
	r.once.Do(func() {
		var rel *release.Release
		r.m, rel, r.err = release.ReadManifest(ctx, r.GH, r.Tag)
		if r.err != nil {
			return
		}
		if rel == nil {
			r.err = fmt.Errorf("no such release: %w", fs.ErrNotExist)
			return
		}
		var assets []release.Asset
		if assets, r.err = r.GH.ListAssets(ctx, rel.ID); r.err != nil {
			return
		}
		r.ids = map[string]int64{}
		// Spread builds live in other releases: the index gives their
		// asset IDs.
		for _, e := range r.m.Entries {
			if e.AssetID != 0 {
				r.ids[e.File] = e.AssetID
			}
		}
		r.sizes = map[string]int{}
		for _, a := range assets {
			r.ids[a.Name] = a.ID
			r.sizes[a.Name] = a.Size
		}
	})
	return r.err
}

func (r *Release) Manifest(ctx context.Context) (*manifest.Manifest, error) {
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	return r.m, nil
}

func (r *Release) File(ctx context.Context, name string) ([]byte, error) {
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	id, ok := r.ids[name]
	if !ok {
		return nil, fmt.Errorf("no asset %s: %w", name, fs.ErrNotExist)
	}
	if size := int64(r.sizes[name]); size > capFor(name) {
		return nil, fmt.Errorf("asset %s is %d MiB, more than a %s can be: refused", name, size>>20, name)
	}
	data, err := r.GH.Download(ctx, id)
	if err != nil && errors.Is(err, release.ErrNotFound) {
		return nil, fmt.Errorf("asset %s: %w", name, fs.ErrNotExist)
	}
	return data, err
}
