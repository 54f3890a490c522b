package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/upstream"
)

// watchFlags are the flags that choose where nginx releases come from.
type watchFlags struct {
	upstream, upstreamURL, mirror, cacheDir string
}

func (w *watchFlags) register(fs *flag.FlagSet, env *Env) {
	fs.StringVar(&w.upstream, "upstream", "github", "where to read nginx releases: github (tags of nginx/nginx) or nginx.org (download index)")
	fs.StringVar(&w.upstreamURL, "upstream-url", "", "override the upstream's URL: the GitHub API base, or the download index with --upstream nginx.org")
	fs.StringVar(&w.mirror, "mirror", upstream.DefaultIndexURL, "nginx download mirror, a URL or a local directory; its index is the fallback when GitHub fails")
	fs.StringVar(&w.cacheDir, "cache-dir", cacheDir(env), "cache directory (ETags of upstream answers)")
}

func (w *watchFlags) fetch(ctx context.Context, env *Env) (upstream.Result, error) {
	mode, err := upstream.ParseMode(w.upstream)
	if err != nil {
		return upstream.Result{}, usagef("--upstream: %v", err)
	}
	o := upstream.Options{
		Mode:     mode,
		IndexURL: w.mirror,
		CacheDir: w.cacheDir,
		HTTP:     env.http(),
		Logf:     func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) },
	}
	// The token belongs to the API host of this run. On github.com that is
	// where nginx/nginx lives; on GitHub Enterprise Server it is not, so
	// nginx/nginx is read from github.com anonymously. An --upstream-url
	// never gets the token unless it is that same API host.
	apiHost := strings.TrimSuffix(env.Getenv("GITHUB_API_URL"), "/")
	if apiHost == "" || apiHost == strings.TrimSuffix(upstream.DefaultAPIURL, "/") {
		o.Token = token(env)
	}
	if w.upstreamURL != "" {
		if mode == upstream.NginxOrg {
			o.IndexURL = w.upstreamURL
		} else {
			o.APIURL = w.upstreamURL
			o.Token = ""
			if apiHost != "" && strings.TrimSuffix(w.upstreamURL, "/") == apiHost {
				o.Token = token(env)
			}
		}
	}
	res, err := upstream.Fetch(ctx, o)
	for _, warn := range res.Warnings {
		fmt.Fprintf(env.Stderr, "warning: %s\n", warn)
	}
	if err != nil {
		if source.Unreachable(err) {
			return res, fmt.Errorf("find nginx releases: %w\nneither GitHub nor the download index is reachable (offline?): point --upstream-url (or --upstream nginx.org with --upstream-url) at a reachable copy, or list the versions under nginx.versions and run build with --mirror DIR", err)
		}
		return res, fmt.Errorf("find nginx releases: %w", err)
	}
	fmt.Fprintf(env.Stderr, "upstream: %d nginx releases from %s (%d requests, %d not modified)\n",
		len(res.Releases), res.Source, res.Requests, res.NotModified)
	return res, nil
}
