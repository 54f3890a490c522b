package release

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
)

// benchCells are 200 files: 20 modules x 10 nginx versions.
func benchCells(changedGen int) []cell {
	var mods []string
	for i := 0; i < 20; i++ {
		mods = append(mods, fmt.Sprintf("ngx_http_m%02d_module", i))
	}
	var cells []cell
	for v := 0; v < 10; v++ {
		cells = append(cells, cell{fmt.Sprintf("1.%d.0", 20+v), "debian-12", "amd64", mods, 0})
	}
	if changedGen > 0 {
		// Five files rebuilt: one cell with five modules at a new build.
		cells[0].modules = mods[5:]
		cells = append(cells, cell{"1.20.0", "debian-12", "amd64", mods[:5], changedGen})
	}
	return cells
}

// benchLatency is a round trip to GitHub, scaled down.
const benchLatency = 2 * time.Millisecond

// benchSync times syncing dist into a release that first holds the
// files of before (if any), on a fake with benchLatency per request.
func benchSync(b *testing.B, before, dist func(dir string), check func(*Result) error) {
	var requests int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		gh := ghfake.New(b)
		gh.CreateRelease(repo, "v1", "v1", "")
		api, _ := client(b, gh)
		if before != nil {
			d0 := b.TempDir()
			before(d0)
			if _, err := Sync(context.Background(), api, Options{Tag: "v1", Dist: d0, Parallel: 4}); err != nil {
				b.Fatal(err)
			}
		}
		d := b.TempDir()
		dist(d)
		gh.SetLatency(benchLatency)
		start := gh.Requests()
		b.StartTimer()
		res, err := Sync(context.Background(), api, Options{Tag: "v1", Dist: d, Parallel: 4})
		b.StopTimer()
		if err == nil {
			err = check(res)
		}
		if err != nil {
			b.Fatal(err)
		}
		requests += gh.Requests() - start
		b.StartTimer()
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
}

// BenchmarkSync200Changed5 syncs 200 files of which 5 changed into a
// release that holds the other build of all 200.
func BenchmarkSync200Changed5(b *testing.B) {
	benchSync(b, func(d string) { writeDist(b, d, benchCells(0)...) }, func(d string) {
		cells := benchCells(1)
		writeDist(b, d, cells[:10]...)
		writeDist(b, filepath.Join(d, "rebuilt"), cells[10])
	}, func(res *Result) error {
		if len(res.Replaced) != 5 || len(res.Unchanged) != 195 {
			return fmt.Errorf("replaced %d unchanged %d", len(res.Replaced), len(res.Unchanged))
		}
		return nil
	})
}

// BenchmarkSync200UploadAll is the baseline: the same 200 files uploaded
// into an empty release.
func BenchmarkSync200UploadAll(b *testing.B) {
	benchSync(b, nil, func(d string) { writeDist(b, d, benchCells(0)...) }, func(res *Result) error {
		if len(res.Uploaded) != 200 {
			return fmt.Errorf("uploaded %d", len(res.Uploaded))
		}
		return nil
	})
}
