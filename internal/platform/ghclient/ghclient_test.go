package ghclient

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
)

const repo = "acme/mod"

func newClient(t *testing.T, gh *ghfake.Server, token string, sleeps *[]time.Duration) *Client {
	t.Helper()
	c, err := New(Options{
		Token: token, APIURL: gh.URL, UploadURL: gh.Uploads.URL, MaxRetries: 3, Backoff: time.Second,
		Sleep: func(_ context.Context, d time.Duration) error {
			if sleeps != nil {
				*sleeps = append(*sleeps, d)
			}
			return nil
		},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokenOnlyToGitHub: the token goes to the API and uploads hosts, not
// to the storage host an asset download redirects to (which, like
// GitHub's object store, would refuse it).
func TestTokenOnlyToGitHub(t *testing.T) {
	gh := ghfake.New(t)
	gh.RequireToken("s3cret")
	rel := gh.CreateRelease(repo, "v1", "v1", "")
	id := gh.AddAsset(repo, rel, "a.so", "", []byte("ELF bytes"))
	c := newClient(t, gh, "s3cret", nil)
	ctx := context.Background()
	rc, _, err := c.Repositories.DownloadReleaseAsset(ctx, "acme", "mod", id, c.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "ELF bytes" {
		t.Errorf("downloaded %q", body)
	}
	for _, r := range gh.Log() {
		if r.Host == "storage" && r.Authorized {
			t.Errorf("token sent to the storage host: %+v", r)
		}
		if r.Host == "api" && !r.Authorized {
			t.Errorf("no token to the API: %+v", r)
		}
	}
	if c.Requests() != int64(gh.Requests()) {
		t.Errorf("counted %d requests, the fake answered %d", c.Requests(), gh.Requests())
	}
}

// TestRetries: 502s and a secondary rate limit are retried within bounds,
// waiting as told; more failures than retries give up.
func TestRetries(t *testing.T) {
	gh := ghfake.New(t)
	gh.CreateRelease(repo, "v1", "v1", "")
	var sleeps []time.Duration
	c := newClient(t, gh, "", &sleeps)
	ctx := context.Background()

	gh.Inject(ghfake.Fault{Status: http.StatusBadGateway})
	gh.Inject(ghfake.Fault{Nth: 2, Status: http.StatusForbidden, RetryAfter: 7})
	if _, _, err := c.Repositories.GetReleaseByTag(ctx, "acme", "mod", "v1"); err != nil {
		t.Fatal(err)
	}
	if len(sleeps) != 2 || sleeps[0] != time.Second || sleeps[1] != 7*time.Second {
		t.Errorf("waits %v, want [1s 7s]", sleeps)
	}
	if c.Requests() != 3 {
		t.Errorf("%d requests, want 3", c.Requests())
	}

	sleeps = nil
	for i := 0; i < 4; i++ {
		gh.Inject(ghfake.Fault{Nth: i + 1, Status: http.StatusServiceUnavailable})
	}
	_, _, err := c.Repositories.GetReleaseByTag(ctx, "acme", "mod", "v1")
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("after 4 failures: %v", err)
	}
	if len(sleeps) != 3 || sleeps[2] != 4*time.Second {
		t.Errorf("waits %v, want 3 doubling from 1s", sleeps)
	}
	// Issue 15: a 502 storm said "502  []"; it says what failed and how
	// often it was tried.
	for i := 0; i < 4; i++ {
		gh.Inject(ghfake.Fault{Nth: i + 1, Status: http.StatusBadGateway})
	}
	_, _, err = c.Repositories.GetReleaseByTag(ctx, "acme", "mod", "v1")
	if e := Explain(err, "release v1"); !strings.Contains(e.Error(), "release v1: GitHub answered 502 Bad Gateway to GET http://") ||
		!strings.Contains(e.Error(), "/repos/acme/mod/releases/tags/v1, 4 time(s) with retries") {
		t.Errorf("502 storm: %v", e)
	}
}

// TestClearErrors: an exhausted rate limit with a far reset, a bad token
// and a missing release say what to do.
func TestClearErrors(t *testing.T) {
	gh := ghfake.New(t)
	gh.CreateRelease(repo, "v1", "v1", "")
	c := newClient(t, gh, "", nil)
	ctx := context.Background()

	_, _, err := c.Repositories.GetReleaseByTag(ctx, "acme", "mod", "v9")
	if e := Explain(err, "release v9"); !strings.Contains(e.Error(), "release v9: not found (404)") {
		t.Errorf("404: %v", e)
	}
	gh.RequireToken("right")
	bad := newClient(t, gh, "wrong", nil)
	_, _, err = bad.Repositories.GetReleaseByTag(ctx, "acme", "mod", "v1")
	if e := Explain(err, "release v1"); !strings.Contains(e.Error(), "GitHub rejected the token (401 Bad credentials)") {
		t.Errorf("401: %v", e)
	}
	gh.RequireToken("")
	gh.FailAll(http.StatusForbidden) // limit reset in 2100: not waited for
	_, _, err = c.Repositories.GetReleaseByTag(ctx, "acme", "mod", "v1")
	if e := Explain(err, "release v1"); !strings.Contains(e.Error(), "rate limit exhausted (60 requests an hour)") {
		t.Errorf("rate limit: %v", e)
	}
}

func TestEnterpriseURLs(t *testing.T) {
	c, err := New(Options{APIURL: "https://ghe.example.com/api/v3"})
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL.String() != "https://ghe.example.com/api/v3/" || c.UploadURL.String() != "https://ghe.example.com/api/uploads/" {
		t.Errorf("base %s upload %s", c.BaseURL, c.UploadURL)
	}
	c, _ = New(Options{})
	if c.BaseURL.String() != "https://api.github.com/" || c.UploadURL.String() != "https://uploads.github.com/" {
		t.Errorf("base %s upload %s", c.BaseURL, c.UploadURL)
	}
	if _, err := New(Options{APIURL: "not a url"}); err == nil {
		t.Error("bad URL accepted")
	}
}
