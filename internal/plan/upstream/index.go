package upstream

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
)

// A tarball link in the nginx.org download index (an nginx autoindex
// page): <a href="nginx-1.26.3.tar.gz">.
var tarballLink = regexp.MustCompile(`href="nginx-([^"/]+)\.tar\.gz"`)

// maxIndexSize bounds what we read of an index page (nginx.org's is
// about 200 KB).
const maxIndexSize = 16 << 20

func fromIndex(ctx context.Context, hc *http.Client, indexURL string) (Result, error) {
	if dir, ok := fetch.LocalDir(indexURL); ok {
		return fromDir(dir)
	}
	res := Result{Source: string(NginxOrg)}
	body, err := fetch.Get(ctx, hc, indexURL, maxIndexSize, nil)
	if err != nil {
		return res, fmt.Errorf("download index: %w", err)
	}
	var candidates []string
	for _, m := range tarballLink.FindAllStringSubmatch(string(body), -1) {
		candidates = append(candidates, m[1])
	}
	res.Releases, res.Ignored = collect(candidates)
	if len(res.Releases) == 0 {
		return res, fmt.Errorf("download index %s lists no nginx-X.Y.Z.tar.gz", fetch.Redacted(indexURL))
	}
	return res, nil
}

// fromDir lists the nginx-X.Y.Z.tar.gz files of a local mirror directory.
func fromDir(dir string) (Result, error) {
	res := Result{Source: "mirror " + dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("mirror directory: %w", err)
	}
	var candidates []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "nginx-") && strings.HasSuffix(name, ".tar.gz") {
			candidates = append(candidates, strings.TrimSuffix(strings.TrimPrefix(name, "nginx-"), ".tar.gz"))
		}
	}
	res.Releases, res.Ignored = collect(candidates)
	if len(res.Releases) == 0 {
		return res, fmt.Errorf("mirror directory %s has no nginx-X.Y.Z.tar.gz", dir)
	}
	return res, nil
}
