package fetch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
)

// Conditional makes GET requests through next conditional: it keeps each
// answer that has an ETag under dir/http, sends the ETag with the next
// request for the same URL and, on 304 Not Modified, answers with the
// body it kept. GitHub does not count a 304 against the rate limit. A
// request for bytes (Accept: application/octet-stream: a release asset,
// immutable by its ID) and an answer over 32 MiB pass through unkept.
func Conditional(dir string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &conditional{dir: dir, next: next}
}

type conditional struct {
	dir  string
	next http.RoundTripper
}

type kept struct {
	URL    string      `json:"url"`
	ETag   string      `json:"etag"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// FromCache is the header Conditional sets on an answer it gave from
// its cache after a 304.
const FromCache = "X-Nginx-Modbuild-From-Cache"

// maxKept bounds an answer the cache keeps.
const maxKept = 32 << 20

// keptHeaders are kept with a body; Link carries GitHub's pagination.
var keptHeaders = []string{"Content-Type", "Link", "Last-Modified"}

func (c *conditional) path(u string) string {
	sum := sha256.Sum256([]byte(u))
	return filepath.Join(c.dir, "http", hex.EncodeToString(sum[:16])+".json")
}

func (c *conditional) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Header.Get("Accept") == "application/octet-stream" {
		return c.next.RoundTrip(req)
	}
	key := req.URL.String()
	var prev *kept
	if b, err := os.ReadFile(c.path(key)); err == nil {
		var e kept
		if json.Unmarshal(b, &e) == nil && e.URL == key && e.ETag != "" {
			prev = &e
			req = req.Clone(req.Context())
			req.Header.Set("If-None-Match", e.ETag)
		}
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && prev != nil:
		resp.Body.Close()
		h := resp.Header.Clone()
		h.Set(FromCache, "304")
		for _, k := range keptHeaders {
			if v := prev.Header.Get(k); v != "" {
				h.Set(k, v)
			}
		}
		return &http.Response{
			Status: "200 OK (cached, 304)", StatusCode: http.StatusOK,
			Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
			Header: h, Body: io.NopCloser(bytes.NewReader(prev.Body)),
			ContentLength: int64(len(prev.Body)), Request: req,
		}, nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxKept+1))
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
		if len(body) > maxKept {
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
			return resp, nil
		}
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		e := kept{URL: key, ETag: resp.Header.Get("ETag"), Header: http.Header{}, Body: body}
		for _, k := range keptHeaders {
			if v := resp.Header.Get(k); v != "" {
				e.Header.Set(k, v)
			}
		}
		// The cache only saves requests; failing to write it is not an error.
		_ = c.store(key, e)
	}
	return resp, nil
}

func (c *conditional) store(key string, e kept) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(p, b, 0o644); err != nil {
		return fmt.Errorf("cache %s: %w", key, err)
	}
	return nil
}
