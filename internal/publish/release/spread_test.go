package release

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
)

// spreadCells is 10 modules x 40 nginx versions (8 lines of 5) x 6
// distros x 2 arches: 4,800 files.
func spreadCells() []cell {
	var mods []string
	for i := 0; i < 10; i++ {
		mods = append(mods, fmt.Sprintf("ngx_http_m%d_module", i))
	}
	var cells []cell
	for minor := 20; minor < 28; minor++ {
		for patch := 0; patch < 5; patch++ {
			for _, d := range []string{"debian-11", "debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04", "alpine-3.22"} {
				for _, a := range []string{"amd64", "arm64"} {
					cells = append(cells, cell{nginx: fmt.Sprintf("1.%d.%d", minor, patch), distro: d, arch: a, modules: mods})
				}
			}
		}
	}
	return cells
}

// TestSpreadReleases is issue 12's acceptance for any number of assets:
// 4,800 files spread over one release per nginx line with a 5xx storm and
// a secondary rate limit during the uploads end with exactly the right
// assets and checksums in every release, and an index.json that readers
// use; a second identical run uploads nothing in at most releases+5
// requests.
func TestSpreadReleases(t *testing.T) {
	gh := ghfake.New(t)
	gh.CreateRepo(repo, "main")
	dist := t.TempDir()
	cells := spreadCells()
	writeDist(t, dist, cells...)
	// The storm: a 502 every 97th upload, a 503 burst, and one secondary
	// rate limit.
	uploads := func(method, host, path string) bool { return host == "uploads" && method == http.MethodPost }
	for n := 50; n < 4800; n += 97 {
		gh.Inject(ghfake.Fault{Match: uploads, Nth: n, Status: http.StatusBadGateway})
	}
	for n := 2000; n < 2004; n++ {
		gh.Inject(ghfake.Fault{Match: uploads, Nth: n, Status: http.StatusServiceUnavailable})
	}
	gh.Inject(ghfake.Fault{Match: uploads, Nth: 3000, Status: http.StatusForbidden, RetryAfter: 2})

	api, c := client(t, gh)
	res, err := Sync(context.Background(), api, Options{Tag: "modules", Create: true, Dist: dist, Spread: "line", Parallel: 8, RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploaded) != 4800 {
		t.Errorf("uploaded %d, want 4800", len(res.Uploaded))
	}
	// Every line's release holds exactly its files, manifest, checksums.
	byTag := map[string][]string{}
	for _, cl := range cells {
		tag, _ := SpreadTag("modules", "line", cl.nginx)
		byTag[tag] = append(byTag[tag], assetNames(cl)...)
	}
	if len(byTag) != 8 {
		t.Fatalf("%d lines", len(byTag))
	}
	total := 0
	for tag, want := range byTag {
		m := check(t, gh, tag, want)
		total += len(m.Entries)
	}
	if total != 4800 {
		t.Errorf("%d entries in the line releases' manifests", total)
	}
	// The index release: index.json lists every file with its release
	// and asset, and ReadManifest (plan --new, bump, install) reads it.
	idx, rel, err := ReadManifest(context.Background(), api, "modules")
	if err != nil || rel == nil {
		t.Fatal(err)
	}
	releaseOf := map[int64]string{}
	for _, r := range gh.Releases(repo) {
		for _, a := range r.Assets {
			releaseOf[a.ID] = r.Tag
		}
	}
	if len(idx.Entries) != 4800 {
		t.Errorf("index lists %d files", len(idx.Entries))
	}
	for _, e := range idx.Entries {
		if want, _ := SpreadTag("modules", "line", e.Nginx); e.Release != want || releaseOf[e.AssetID] != want {
			t.Errorf("%s: index says release %s asset %d (in %s), want %s", e.File, e.Release, e.AssetID, releaseOf[e.AssetID], want)
			break
		}
	}
	for _, r := range gh.Releases(repo) {
		if r.Tag == "modules" {
			var names []string
			for _, a := range r.Assets {
				names = append(names, a.Name)
			}
			sort.Strings(names)
			if strings.Join(names, " ") != IndexName || !strings.Contains(r.Body, "| modules-nginx-1.27 | 600 |") {
				t.Errorf("index release: assets %v, notes:\n%s", names, r.Body)
			}
		}
	}

	// Nothing new: no upload, at most releases+5 requests.
	before := c.Requests()
	res, err = Sync(context.Background(), api, Options{Tag: "modules", Create: true, Dist: dist, Spread: "line", RunID: "r2"})
	if err != nil {
		t.Fatal(err)
	}
	n := c.Requests() - before
	if len(res.Uploaded)+len(res.Replaced) != 0 || len(res.Unchanged) != 4800 || n > int64(len(byTag)+1+5) {
		t.Errorf("second run: %d uploaded, %d replaced, %d unchanged, %d requests (limit %d)",
			len(res.Uploaded), len(res.Replaced), len(res.Unchanged), n, len(byTag)+1+5)
	}
	t.Logf("second run: %d requests", n)

	// One cell rebuilt: only its line's release and the index change.
	dist2 := t.TempDir()
	rebuilt := cells[0]
	rebuilt.gen = 1
	writeDist(t, dist2, rebuilt)
	res, err = Sync(context.Background(), api, Options{Tag: "modules", Dist: dist2, Spread: "line", RunID: "r3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replaced) != 10 || len(res.Uploaded) != 0 {
		t.Errorf("rebuild: replaced %v, uploaded %v", res.Replaced, res.Uploaded)
	}
	idx, _, _ = ReadManifest(context.Background(), api, "modules")
	if len(idx.Entries) != 4800 {
		t.Errorf("after the rebuild the index lists %d files", len(idx.Entries))
	}
	_ = manifest.Schema
}
