// Package fetch is the one way out to the network for a plain GET (as
// userfile is the one way in from disk): every error names the URL
// without its credentials, a body longer than the caller's limit is
// refused (never cut short), and a status that is not 200 is a
// *StatusError that says its class (missing, transient, refused).
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

// ErrTooLarge is a body over the caller's limit.
var ErrTooLarge = errors.New("larger than the limit")

// StatusError is an answer other than 200 OK.
type StatusError struct {
	// URL is the request's, without credentials.
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: %s", e.URL, e.Status) }

// Is makes a 404 an fs.ErrNotExist: the file is not there.
func (e *StatusError) Is(target error) bool {
	return target == fs.ErrNotExist && e.Code == http.StatusNotFound
}

// Transient reports whether trying again later may succeed: a server
// error or a rate limit.
func (e *StatusError) Transient() bool { return e.Code >= 500 || e.Code == http.StatusTooManyRequests }

// Redacted is rawURL without its password (for messages); rawURL itself
// when it does not parse (it holds no parsable credentials then).
func Redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// Get fetches rawURL with c and returns the body of a 200 answer, at most
// limit bytes. header is added to the request (nil for none).
func Get(ctx context.Context, c *http.Client, rawURL string, limit int64, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", Redacted(rawURL), errors.Unwrap(err))
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.Do(req) // its *url.Error names the URL without the password
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &StatusError{URL: req.URL.Redacted(), Code: resp.StatusCode, Status: resp.Status}
	}
	return Body(resp, limit)
}

// Body reads a response's body, at most limit bytes: a longer one is
// ErrTooLarge, naming the request's URL.
func Body(resp *http.Response, limit int64) ([]byte, error) {
	where := "the response"
	if resp.Request != nil && resp.Request.URL != nil {
		where = resp.Request.URL.Redacted()
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", where, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: %w of %d bytes: refused (not cut short)", where, ErrTooLarge, limit)
	}
	return data, nil
}

// LocalDir returns the directory a mirror or index URL names when it is
// a local one (a path, or a file:// URL): read from disk, not fetched.
func LocalDir(mirror string) (string, bool) {
	if strings.HasPrefix(mirror, "file://") {
		return strings.TrimPrefix(mirror, "file://"), true
	}
	return mirror, !strings.Contains(mirror, "://")
}
