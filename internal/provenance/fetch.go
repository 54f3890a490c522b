package provenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v60/github"
)

// attestationsAPI is the part of go-github this package calls (v60 has
// no attestations service: the request is made by hand).
type attestationsAPI interface {
	NewRequest(method, urlStr string, body any, opts ...github.RequestOption) (*http.Request, error)
	Do(ctx context.Context, req *http.Request, v any) (*github.Response, error)
}

var _ attestationsAPI = (*github.Client)(nil)

// Fetch returns the bundles GitHub holds for the file of owner/repo whose
// SHA-256 is sha256Hex (GET /repos/{owner}/{repo}/attestations/sha256:
// {digest}), newest first; none when GitHub has none.
func Fetch(ctx context.Context, c attestationsAPI, owner, repo, sha256Hex string) ([][]byte, error) {
	req, err := c.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/attestations/sha256:%s", owner, repo, sha256Hex), nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Attestations []struct {
			Bundle json.RawMessage `json:"bundle"`
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
	for _, a := range out.Attestations {
		if len(a.Bundle) > 0 {
			bundles = append(bundles, a.Bundle)
		}
	}
	return bundles, nil
}
