package fetch

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(r.Header.Get("X-Want") + "12345678"))
		case "/missing":
			http.NotFound(w, r)
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/slow-down":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/no":
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	withPass := strings.Replace(srv.URL, "http://", "http://user:s3cret@", 1)
	ctx := context.Background()
	if b, err := Get(ctx, srv.Client(), withPass+"/ok", 8, http.Header{"X-Want": {""}}); err != nil || string(b) != "12345678" {
		t.Errorf("a body of exactly the limit: %q %v", b, err)
	}
	if _, err := Get(ctx, srv.Client(), withPass+"/ok", 7, nil); !errors.Is(err, ErrTooLarge) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a body over the limit: %v", err)
	}
	for path, want := range map[string]struct{ missing, transient bool }{
		"/missing": {true, false}, "/busy": {false, true}, "/slow-down": {false, true}, "/no": {false, false},
	} {
		_, err := Get(ctx, srv.Client(), withPass+path, 100, nil)
		var se *StatusError
		if !errors.As(err, &se) || errors.Is(err, fs.ErrNotExist) != want.missing || se.Transient() != want.transient {
			t.Errorf("%s: %v", path, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the password is in %q", path, err)
		}
	}
	// A refused connection and a malformed URL: no password either.
	for _, u := range []string{"http://user:s3cret@127.0.0.1:1/x", "http://user:s3cret@[::1/x"} {
		if _, err := Get(ctx, http.DefaultClient, u, 100, nil); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v", Redacted(u), err)
		}
	}
}
