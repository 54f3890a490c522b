package provenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v60/github"
	"github.com/klauspost/compress/snappy"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
)

// attestationsAPI is the part of go-github this package calls (v60 has
// no attestations service: the request is made by hand).
type attestationsAPI interface {
	NewRequest(method, urlStr string, body any, opts ...github.RequestOption) (*http.Request, error)
	Do(ctx context.Context, req *http.Request, v any) (*github.Response, error)
}

var _ attestationsAPI = (*github.Client)(nil)

// Bounds on a bundle fetched from its bundle_url: a Sigstore bundle is a
// few KB; these keep a hostile listing from exhausting memory.
const (
	maxCompressedBundle = 8 << 20
	maxBundle           = 32 << 20
)

// Fetch returns the bundles GitHub holds for the file of owner/repo whose
// SHA-256 is sha256Hex (GET /repos/{owner}/{repo}/attestations/sha256:
// {digest}), newest first; none when GitHub has none. An attestation
// listed with its bundle inline is taken as it is; one listed by
// bundle_url only (GitHub's newer form) is downloaded with storage,
// which must not carry the GitHub token (the URL is pre-signed), and
// snappy-decoded, as gh does.
func Fetch(ctx context.Context, c attestationsAPI, storage *http.Client, owner, repo, sha256Hex string) ([][]byte, error) {
	req, err := c.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/attestations/sha256:%s", owner, repo, sha256Hex), nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Attestations []struct {
			Bundle    json.RawMessage `json:"bundle"`
			BundleURL string          `json:"bundle_url"`
		} `json:"attestations"`
	}
	resp, err := c.Do(ctx, req, &out)
	var ge *github.ErrorResponse
	if errors.As(err, &ge) && resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("attestations of %s/%s for sha256:%s: %w", owner, repo, sha256Hex, err)
	}
	var bundles [][]byte
	for i, a := range out.Attestations {
		switch {
		case len(a.Bundle) > 0 && !bytes.Equal(a.Bundle, []byte("null")):
			bundles = append(bundles, a.Bundle)
		case a.BundleURL != "":
			b, err := download(ctx, storage, a.BundleURL)
			if err != nil {
				return nil, fmt.Errorf("attestation %d of %s/%s for sha256:%s: %w", i+1, owner, repo, sha256Hex, err)
			}
			bundles = append(bundles, b)
		}
	}
	return bundles, nil
}

// download fetches a snappy-compressed bundle from its bundle_url.
func download(ctx context.Context, storage *http.Client, url string) ([]byte, error) {
	body, err := fetch.Get(ctx, storage, url, maxCompressedBundle, nil)
	if err != nil {
		return nil, fmt.Errorf("bundle_url: %w", err)
	}
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("bundle_url: not snappy-compressed: %w", err)
	}
	if n > maxBundle {
		return nil, fmt.Errorf("bundle_url: the bundle would be %d bytes, more than %d", n, maxBundle)
	}
	b, err := snappy.Decode(make([]byte, n), body)
	if err != nil {
		return nil, fmt.Errorf("bundle_url: not snappy-compressed: %w", err)
	}
	return b, nil
}
