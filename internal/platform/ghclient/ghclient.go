// Package ghclient makes the go-github client every command uses: the token
// (Action input or GITHUB_TOKEN) sent only to the API and uploads hosts of
// the run (GITHUB_API_URL: github.com or GitHub Enterprise Server), never
// across a redirect to another host; bounded retries with backoff on 5xx and
// network errors; waiting out rate limits when the wait is short and a clear
// error when it is not; and a count of requests for the run's log.
package ghclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
)

// DefaultAPIURL is github.com's API.
const DefaultAPIURL = "https://api.github.com"

// Options configure a client.
type Options struct {
	Token string
	// APIURL is GITHUB_API_URL (default github.com's).
	APIURL string
	// UploadURL is where release assets go; by default uploads.github.com
	// for github.com, and the API's host (…/api/uploads/) for GitHub
	// Enterprise Server.
	UploadURL string
	// HTTP supplies the transport (nil: http.DefaultTransport).
	HTTP *http.Client
	// MaxRetries bounds retries of one request (default 4).
	MaxRetries int
	// Backoff is the first retry's wait, doubled each time (default 1s).
	Backoff time.Duration
	// MaxWait is the longest a rate limit is waited out (default 60s);
	// a longer one fails the request.
	MaxWait time.Duration
	// Sleep waits (tests make it instant); Now is the clock.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
	// Logf reports retries and waits.
	Logf func(format string, args ...any)
	// CacheDir, when set, keeps API answers with their ETags
	// (fetch.Conditional): an unchanged answer costs a 304, which GitHub
	// does not count against the rate limit.
	CacheDir string
}

// Client is a go-github client with the run's request count.
type Client struct {
	*github.Client
	// HTTP is the client to follow asset download redirects with: it
	// carries no token to other hosts.
	HTTP *http.Client

	requests    atomic.Int64
	notModified atomic.Int64
	mu          sync.Mutex
	trusted     map[string]bool
}

// New makes a client.
func New(o Options) (*Client, error) {
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 4
	}
	if o.Backoff == 0 {
		o.Backoff = time.Second
	}
	if o.MaxWait == 0 {
		o.MaxWait = time.Minute
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	api, err := url.Parse(strings.TrimSuffix(o.APIURL, "/") + "/")
	if err != nil || api.Host == "" {
		return nil, fmt.Errorf("GITHUB_API_URL %q is not a URL", o.APIURL)
	}
	if o.UploadURL == "" {
		switch {
		case api.Host == "api.github.com":
			o.UploadURL = "https://uploads.github.com/"
		default: // GitHub Enterprise Server: https://HOST/api/v3 -> https://HOST/api/uploads
			u := *api
			u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v3") + "/uploads/"
			o.UploadURL = u.String()
		}
	}
	upload, err := url.Parse(strings.TrimSuffix(o.UploadURL, "/") + "/")
	if err != nil || upload.Host == "" {
		return nil, fmt.Errorf("upload URL %q is not a URL", o.UploadURL)
	}
	base := http.DefaultTransport
	if o.HTTP != nil && o.HTTP.Transport != nil {
		base = o.HTTP.Transport
	}
	if o.CacheDir != "" {
		base = fetch.Conditional(o.CacheDir, base)
	}
	c := &Client{trusted: map[string]bool{api.Host: true, upload.Host: true}}
	timeout := 5 * time.Minute
	if o.HTTP != nil && o.HTTP.Timeout != 0 {
		timeout = o.HTTP.Timeout
	}
	c.HTTP = &http.Client{Transport: &transport{base: base, c: c, o: o}, Timeout: timeout}
	c.Client = github.NewClient(c.HTTP)
	c.Client.BaseURL, c.Client.UploadURL = api, upload
	c.Client.UserAgent = "nginx-modbuild"
	return c, nil
}

// Requests is how many HTTP requests (retries included) were made.
func (c *Client) Requests() int64 { return c.requests.Load() }

// NotModified is how many of them were answered 304 (Options.CacheDir):
// free of the rate limit.
func (c *Client) NotModified() int64 { return c.notModified.Load() }

// UploadHost is the uploads host the token may go to (configured, never
// taken from an API answer).
func (c *Client) UploadHost() string { return c.Client.UploadURL.Host }

func (c *Client) isTrusted(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trusted[host]
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type transport struct {
	base http.RoundTripper
	c    *Client
	o    Options
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		r.Header.Del("Authorization")
		if t.o.Token != "" && t.c.isTrusted(r.URL.Host) {
			r.Header.Set("Authorization", "Bearer "+t.o.Token)
		}
		t.c.requests.Add(1)
		resp, err := t.base.RoundTrip(r)
		if resp != nil && resp.Header.Get(fetch.FromCache) != "" {
			t.c.notModified.Add(1)
		}
		if resp != nil {
			resp.Body = &capped{r: resp.Body, left: maxBody, url: r.URL.Redacted()}
		}
		wait, why := t.retry(resp, err, attempt)
		if why == "" || !replayable || attempt >= t.o.MaxRetries {
			if resp != nil {
				resp.Header.Set(attemptsHeader, strconv.Itoa(attempt+1))
			}
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		t.o.Logf("GitHub API: %s %s: %s; retry %d/%d in %s", req.Method, req.URL.Path, why, attempt+1, t.o.MaxRetries, wait.Round(time.Millisecond))
		if err := t.o.Sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// maxBody bounds one answer's body (the largest, an asset download, is a
// built module; API JSON is far smaller): a runaway answer is an error,
// not the tool running out of memory.
const maxBody = 512 << 20

// capped fails a read past its limit.
type capped struct {
	r    io.ReadCloser
	left int64
	url  string
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("the answer to %s is over %d bytes: refused", c.url, int64(maxBody))
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.r.Close() }

// attemptsHeader carries, on the answer the caller gets, how many
// requests it took, for error messages.
const attemptsHeader = "X-Nginx-Modbuild-Attempts"

// retry decides whether an answer is worth retrying, and after how long.
func (t *transport) retry(resp *http.Response, err error, attempt int) (time.Duration, string) {
	backoff := t.o.Backoff << attempt
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, ""
		}
		return backoff, err.Error()
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return backoff, resp.Status
	case http.StatusForbidden, http.StatusTooManyRequests:
		if s := resp.Header.Get("Retry-After"); s != "" {
			if n, err := strconv.Atoi(s); err == nil && time.Duration(n)*time.Second <= t.o.MaxWait {
				return time.Duration(n) * time.Second, "secondary rate limit"
			}
			return 0, ""
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
			if err != nil {
				return 0, ""
			}
			wait := time.Unix(reset, 0).Sub(t.o.Now()) + time.Second
			if wait <= t.o.MaxWait {
				return max(wait, 0), "rate limit exhausted until " + time.Unix(reset, 0).UTC().Format(time.TimeOnly) + " UTC"
			}
		}
	}
	return 0, ""
}

// Explain turns go-github's errors into messages that say what to do.
func Explain(err error, what string) error {
	if err == nil {
		return nil
	}
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		return fmt.Errorf("%s: GitHub API rate limit exhausted (%d requests an hour), resets at %s UTC: use a token (GITHUB_TOKEN or the token input) or wait",
			what, rl.Rate.Limit, rl.Rate.Reset.UTC().Format("15:04"))
	case errors.As(err, &abuse):
		return fmt.Errorf("%s: GitHub's secondary rate limit (too many requests at once); retry later or lower the parallelism", what)
	case errors.As(err, &er) && er.Response != nil:
		switch er.Response.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: GitHub rejected the token (401 %s): check GITHUB_TOKEN or the token input", what, er.Message)
		case http.StatusForbidden:
			if er.Response.Request != nil && strings.Contains(er.Response.Request.URL.Path, "/pulls") {
				return fmt.Errorf("%s: forbidden (403 %s): with GITHUB_TOKEN, pull requests need `pull-requests: write` in the workflow AND the repository setting Settings > Actions > General > \"Allow GitHub Actions to create and approve pull requests\" (or a PAT / app token as the token input)", what, er.Message)
			}
			return fmt.Errorf("%s: forbidden (403 %s): the token lacks a permission (releases need `contents: write`, pull requests `pull-requests: write`)", what, er.Message)
		case http.StatusNotFound:
			return fmt.Errorf("%s: not found (404): check the repository name, and that the token can see it", what)
		}
		if code := er.Response.StatusCode; code >= 500 {
			tries := er.Response.Header.Get(attemptsHeader)
			if tries == "" {
				tries = "1"
			}
			req := "the request"
			if er.Response.Request != nil {
				req = er.Response.Request.Method + " " + er.Response.Request.URL.Redacted()
			}
			return fmt.Errorf("%s: GitHub answered %s to %s, %s time(s) with retries and backoff: GitHub's servers are failing; re-run later (every command is safe to re-run)",
				what, er.Response.Status, req, tries)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
