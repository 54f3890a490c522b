package install

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestURLRefusesPlainHTTP is issue 21 item 2: the manifest, SHA256SUMS
// and the .so of a --from URL come from one source, so plain http (or an
// https source redirecting to http) is refused unless Insecure, and the
// messages never show credentials from the URL.
func TestURLRefusesPlainHTTP(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("bytes")) }))
	defer plain.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down/x.so" {
			http.Redirect(w, r, plain.URL+"/x.so", http.StatusFound)
			return
		}
		w.Write([]byte("bytes"))
	}))
	defer tls.Close()
	ctx := context.Background()
	withCreds := strings.Replace(plain.URL, "http://", "http://user:s3cret@", 1)

	if n := (URL{Base: withCreds}).Name(); strings.Contains(n, "s3cret") {
		t.Errorf("Name() shows the password: %s", n)
	}
	_, err := URL{Base: withCreds, HTTP: plain.Client()}.File(ctx, "x.so")
	if !errors.Is(err, ErrPlainHTTP) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("plain http: %v", err)
	}
	if b, err := (URL{Base: plain.URL, HTTP: plain.Client(), Insecure: true}).File(ctx, "x.so"); err != nil || string(b) != "bytes" {
		t.Errorf("plain http with Insecure: %q %v", b, err)
	}
	if b, err := (URL{Base: tls.URL, HTTP: tls.Client()}).File(ctx, "x.so"); err != nil || string(b) != "bytes" {
		t.Errorf("https: %q %v", b, err)
	}
	if _, err := (URL{Base: tls.URL + "/down", HTTP: tls.Client()}).File(ctx, "x.so"); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("https redirecting to http: %v", err)
	}
}

// TestSourceCapsIndexFiles is issue 21 item 7: a manifest or checksum
// list that does not end is cut at 32 MiB, not read to 256 MiB.
func TestSourceCapsIndexFiles(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("{", 1<<16))
		for i := 0; i < (96<<20)/len(chunk); i++ { // 96 MiB, or until the client stops
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	for _, name := range []string{"manifest.json", "SHA256SUMS"} {
		_, err := URL{Base: srv.URL, HTTP: srv.Client()}.File(context.Background(), name)
		if err == nil || !strings.Contains(err.Error(), "over 32 MiB") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestURLErrorsHoldNoPassword is issue 30's item 13: a --from URL with
// credentials whose server answers 404 or 500 (or is not there) fails
// naming the URL without its password; a 404 is a missing file.
func TestURLErrorsHoldNoPassword(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/rel/SHA256SUMS" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	base := strings.Replace(srv.URL, "https://", "https://user:s3cret@", 1) + "/rel"
	src := URL{Base: base, HTTP: srv.Client()}
	_, err := src.File(context.Background(), "x.so")
	if !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "user:xxxxx@") {
		t.Errorf("404: %v", err)
	}
	_, err = src.File(context.Background(), "SHA256SUMS")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "500") {
		t.Errorf("500: %v", err)
	}
	_, err = URL{Base: "https://user:s3cret@127.0.0.1:1/rel", HTTP: srv.Client()}.File(context.Background(), "x.so")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("no server: %v", err)
	}
}
