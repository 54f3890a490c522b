package upstream

import (
	"net/http"
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
