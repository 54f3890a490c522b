// Package upstream finds nginx releases: from the release-X.Y.Z tags of
// github.com/nginx/nginx through the GitHub API, or from the nginx.org
// download index, falling back from the first to the second.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
)

// Release is one open-source nginx release.
type Release struct {
	Version *version.Version
	Line    nginxver.Line
}

// String is the version, "1.26.3".
func (r Release) String() string { return nginxver.String(r.Version) }

// Versions are the releases' versions, in the same order.
func (r Result) Versions() []*version.Version {
	out := make([]*version.Version, len(r.Releases))
	for i, rel := range r.Releases {
		out[i] = rel.Version
	}
	return out
}

// Result is what a watch found, and where.
type Result struct {
	// Releases are newest first, without duplicates.
	Releases []Release
	// Source says where they came from: "github" or "nginx.org".
	Source string
	// Requests counts HTTP requests made; NotModified how many of them
	// were answered 304 from the ETag cache.
	Requests, NotModified int
	// Ignored counts tags or links that are not nginx releases.
	Ignored int
	// Warnings say what went wrong on the way (e.g. the GitHub failure
	// that caused a fallback to nginx.org).
	Warnings []string
}

// Mode picks the first source to ask.
type Mode string

// The upstream sources.
const (
	GitHub   Mode = "github"
	NginxOrg Mode = "nginx.org"
)

// ParseMode accepts github or nginx.org.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case GitHub, NginxOrg:
		return m, nil
	}
	return "", fmt.Errorf("unknown upstream %q (want github or nginx.org)", s)
}

// Defaults for the public sources.
const (
	DefaultAPIURL   = "https://api.github.com/"
	DefaultIndexURL = "https://nginx.org/download/"
	Owner, Repo     = "nginx", "nginx"
)

// Options configure a watch.
type Options struct {
	Mode Mode
	// APIURL is the GitHub REST API base; IndexURL the download index.
	APIURL, IndexURL string
	// Token authenticates to GitHub (optional; raises the rate limit).
	Token string
	// CacheDir keeps ETags and bodies so an unchanged list costs 304s.
	// Empty disables the cache.
	CacheDir string
	// HTTP is the client to use; nil means a client with a 30 s timeout.
	HTTP *http.Client
	// Sleep waits between GitHub retries (nil: real time; tests make it
	// instant); Logf reports them.
	Sleep func(ctx context.Context, d time.Duration) error
	Logf  func(format string, args ...any)
}

// Fetch lists nginx releases. In GitHub mode a GitHub failure (5xx, rate
// limit, network) falls back to the download index, with a warning.
func Fetch(ctx context.Context, o Options) (Result, error) {
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if o.IndexURL == "" {
		o.IndexURL = DefaultIndexURL
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: defaultTimeout}
	}
	counter := &counting{next: o.HTTP.Transport}
	var rt http.RoundTripper = counter
	if o.CacheDir != "" {
		rt = fetch.Conditional(o.CacheDir, counter)
	}
	client := *o.HTTP
	client.Transport = rt

	var res Result
	if o.Mode != NginxOrg {
		r, err := fromGitHub(ctx, &client, o)
		r.Requests, r.NotModified = counter.requests, counter.notModified
		if err == nil {
			return r, nil
		}
		if ctx.Err() != nil {
			return r, err
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("GitHub tags of %s/%s: %v; falling back to %s", Owner, Repo, err, o.IndexURL))
	}
	r, err := fromIndex(ctx, &client, o.IndexURL)
	r.Requests, r.NotModified = counter.requests, counter.notModified
	r.Warnings = append(res.Warnings, r.Warnings...)
	if err != nil {
		return r, errors.Join(append(warningErrors(res.Warnings), err)...)
	}
	return r, nil
}

func warningErrors(ws []string) []error {
	var out []error
	for _, w := range ws {
		out = append(out, errors.New(w))
	}
	return out
}

var tagName = regexp.MustCompile(`^release-(\d+\.\d+\.\d+)$`)

// collect turns candidate version strings into sorted, unique releases,
// counting the ones that are not release versions.
func collect(candidates []string) (rels []Release, ignored int) {
	seen := map[string]bool{}
	var vs []*version.Version
	for _, c := range candidates {
		v, err := nginxver.Parse(c)
		if err != nil {
			ignored++
			continue
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		vs = append(vs, v)
	}
	nginxver.Sort(vs)
	for _, v := range vs {
		rels = append(rels, Release{Version: v, Line: nginxver.LineOf(v)})
	}
	return rels, ignored
}
