package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// Tree is an nginx source tree of a version, as its own nginx.h says:
// nginx.org's, or a fork's (freenginx, Angie) that the config names.
type Tree struct {
	Dir string
	// Product is the name nginx.h gives (NGINX_NAME, "nginx" when it
	// defines none; "Angie" for Angie), Version its NGINX_VERSION.
	Product, Version string
	// What says where it came from and how it was checked, for the log
	// and the cell manifest.
	What string
}

// Named gets the source a config or --source names for version: a
// directory (an unpacked tree, used as it is), or a .tar.gz given as a
// path or an https:// URL, in which "{version}" stands for the version;
// a tarball must match sum (64 hex digits: nothing else can vouch for a
// fork's tarball), and is extracted once into the cache under its
// SHA-256. The tree's nginx.h must be of version.
func Named(ctx context.Context, o Options, spec, version, sum string) (Tree, error) {
	spec = strings.ReplaceAll(spec, "{version}", version)
	if fi, err := os.Stat(spec); err == nil && fi.IsDir() {
		t, err := ReadTree(spec)
		if err != nil {
			return t, err
		}
		t.What = fmt.Sprintf("%s %s source directory %s", t.Product, t.Version, spec)
		return t, checkVersion(t, spec, version)
	}
	if !regexp.MustCompile(`^[0-9a-fA-F]{64}$`).MatchString(sum) {
		return Tree{}, fmt.Errorf("source %s: a tarball needs its SHA-256 pinned (nginx.sha256: {%s: ...} in the config, or --source-sha256): nothing else vouches for a fork's release", spec, version)
	}
	sum = strings.ToLower(sum)
	dir := filepath.Join(o.CacheDir, "sources", sum)
	if t, err := ReadTree(dir); err == nil {
		t.What = fmt.Sprintf("%s %s from %s (sha256 %s, pinned)", t.Product, t.Version, spec, sum)
		return t, checkVersion(t, spec, version)
	}
	var data []byte
	var err error
	if local, ok := fetch.LocalDir(spec); ok {
		data, err = userfile.Read(local, maxTarball)
	} else {
		data, err = get(ctx, o.HTTP, spec)
	}
	if err != nil {
		return Tree{}, fmt.Errorf("source %s: %w", spec, err)
	}
	got := sha256.Sum256(data)
	if h := hex.EncodeToString(got[:]); h != sum {
		return Tree{}, fmt.Errorf("source %s has SHA-256 %s, but %s is pinned: not the release the config names (nothing was cached; %w)", spec, h, sum, ErrMismatch)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return Tree{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".extract-")
	if err != nil {
		return Tree{}, err
	}
	defer os.RemoveAll(tmp)
	root, err := Extract(bytes.NewReader(data), tmp)
	if err != nil {
		return Tree{}, fmt.Errorf("source %s: %w", spec, err)
	}
	if err := os.Rename(root, dir); err != nil && !os.IsExist(err) {
		return Tree{}, err
	}
	t, err := ReadTree(dir)
	if err != nil {
		return t, fmt.Errorf("source %s: %w", spec, err)
	}
	t.What = fmt.Sprintf("%s %s from %s (sha256 %s, pinned)", t.Product, t.Version, spec, sum)
	return t, checkVersion(t, spec, version)
}

func checkVersion(t Tree, spec, version string) error {
	if t.Version != version {
		return fmt.Errorf("source %s is %s %s, not %s", spec, t.Product, t.Version, version)
	}
	return nil
}

var (
	nginxName    = regexp.MustCompile(`(?m)^#define\s+NGINX_NAME\s+"([^"]+)"`)
	nginxVersion = regexp.MustCompile(`(?m)^#define\s+NGINX_VERSION\s+"([^"]+)"`)
	angieVersion = regexp.MustCompile(`(?m)^#define\s+ANGIE_VERSION\s+"([^"]+)"`)
)

// ReadTree reads what an nginx source tree is from its src/core/nginx.h
// (and src/core/angie.h): product and version.
func ReadTree(dir string) (Tree, error) {
	h, err := userfile.Read(filepath.Join(dir, "src", "core", "nginx.h"), 1<<20)
	if err != nil {
		return Tree{}, fmt.Errorf("%s is not an nginx source tree (no src/core/nginx.h): %w", dir, err)
	}
	t := Tree{Dir: dir, Product: "nginx"}
	if m := nginxVersion.FindSubmatch(h); m != nil {
		t.Version = string(m[1])
	} else {
		return t, fmt.Errorf("%s/src/core/nginx.h defines no NGINX_VERSION", dir)
	}
	if m := nginxName.FindSubmatch(h); m != nil {
		t.Product = string(m[1])
	}
	if a, err := userfile.Read(filepath.Join(dir, "src", "core", "angie.h"), 1<<20); err == nil && angieVersion.Match(a) {
		t.Product = "Angie"
	}
	return t, nil
}
