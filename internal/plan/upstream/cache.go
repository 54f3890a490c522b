package upstream

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

// counting counts requests and 304 answers.
type counting struct {
	next                  http.RoundTripper
	requests, notModified int
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	next := c.next
	if next == nil {
		next = http.DefaultTransport
	}
	c.requests++
	resp, err := next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusNotModified {
		c.notModified++
	}
	return resp, err
}

// etagCache makes GET requests conditional: it sends the ETag it kept for
// a URL and, on 304 Not Modified, answers with the body it kept. GitHub
// does not count a 304 against the rate limit.
type etagCache struct {
	dir  string
	next http.RoundTripper
}

type cached struct {
	URL    string      `json:"url"`
	ETag   string      `json:"etag"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// Headers kept with a cached body; Link carries GitHub's pagination.
var keptHeaders = []string{"Content-Type", "Link", "Last-Modified"}

func (c *etagCache) path(u string) string {
	sum := sha256.Sum256([]byte(u))
	return filepath.Join(c.dir, "http", hex.EncodeToString(sum[:16])+".json")
}

func (c *etagCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return c.next.RoundTrip(req)
	}
	key := req.URL.String()
	var prev *cached
	if b, err := os.ReadFile(c.path(key)); err == nil {
		var e cached
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
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		e := cached{URL: key, ETag: resp.Header.Get("ETag"), Header: http.Header{}, Body: body}
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

func (c *etagCache) store(key string, e cached) error {
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
