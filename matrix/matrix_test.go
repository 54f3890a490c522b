package matrix

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-version"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
)

// upstreamReleases is a slice of the real release history, newest first.
var upstreamReleases = releases(
	"1.31.4", "1.31.3", "1.30.4", "1.31.2", "1.30.3", "1.31.1", "1.30.2", "1.31.0",
	"1.30.1", "1.30.0", "1.29.8", "1.29.3", "1.29.0", "1.28.0", "1.27.4", "1.27.2",
	"1.26.3", "1.26.2", "1.25.5", "1.24.0", "1.22.1", "1.18.0",
)

// releases parses versions and returns them as upstream would: newest first.
func releases(vs ...string) []*version.Version {
	var parsed []*version.Version
	for _, s := range vs {
		v, err := nginxver.Parse(s)
		if err != nil {
			panic(err)
		}
		parsed = append(parsed, v)
	}
	nginxver.Sort(parsed)
	return parsed
}

func cfgWith(t testing.TB, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yml", t.TempDir(), []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestSelect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"defaults: newest of each line", ``, []string{"1.31.4 [latest mainline]", "1.30.4 [latest stable]"}},
		{"stable only, two", "nginx: {lines: [stable], latest: 2}", []string{"1.30.4 [latest stable]", "1.30.3 [latest stable]"}},
		{"constraint caps the line", "nginx: {lines: [stable, mainline], latest: 1, constraint: '< 1.30'}",
			[]string{"1.29.8 [latest mainline] PLS.37.0.0.1,PLS.37.0.1.1,PLS.37.0.2.1,PLS.37.0.3.1,PLS.37.0.4.1", "1.28.0 [latest stable]"}},
		{"explicit versions join and dedupe", "nginx: {lines: [stable], latest: 1, versions: [1.30.4, 1.26.3]}",
			[]string{"1.30.4 [latest stable versions]", "1.26.3 [versions]"}},
		{"the pin is always built", "nginx: {lines: [stable], latest: 1, pin: 1.24.0}",
			[]string{"1.30.4 [latest stable]", "1.24.0 [pin]"}},
		{"plus bases labelled", "nginx: {lines: [], plus: [R34, R36 P3, PLS.37.0.4.1]}", []string{
			"1.29.8 [plus PLS.37.0.4.1] PLS.37.0.0.1,PLS.37.0.1.1,PLS.37.0.2.1,PLS.37.0.3.1,PLS.37.0.4.1",
			"1.29.3 [plus R36 P3] R36",
			"1.27.4 [plus R34] R34",
		}},
		{"latest zero", "nginx: {latest: 0, versions: [1.22.1]}", []string{"1.22.1 [versions]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := cfgWith(t, tt.yml)
			ts, _, err := Select(cfg.Nginx, cfg.Distros, upstreamReleases, plus.Embedded())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range ts {
				s := fmt.Sprintf("%s %v", x.Nginx, x.Why)
				if len(x.Plus) > 0 {
					s += " " + strings.Join(x.Plus, ",")
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Select (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectUnknownVersion(t *testing.T) {
	t.Parallel()
	_, _, err := Select(cfgWith(t, "nginx: {versions: [1.26.9]}").Nginx, nil, upstreamReleases, plus.Embedded())
	if err == nil || !strings.Contains(err.Error(), "1.26.9 is not an nginx release") {
		t.Errorf("err = %v", err)
	}
	// Issue 16: a pin that is no release was accepted and planned.
	_, _, err = Select(cfgWith(t, "nginx: {pin: 1.26.99}").Nginx, nil, upstreamReleases, plus.Embedded())
	if err == nil || !strings.Contains(err.Error(), "nginx.pin: 1.26.99 is not an nginx release") {
		t.Errorf("pin: err = %v", err)
	}
}

func targets(n int) []Target {
	var ts []Target
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("1.%d.%d", 30-i%8, i)
		pv, _ := nginxver.Parse(v)
		ts = append(ts, Target{Nginx: v, Line: nginxver.LineOf(pv), Plus: []string{}, v: pv})
	}
	return ts
}

// sized builds a config with d distros (custom ones past the table) and
// the given arches.
func sized(d int, arch ...string) *config.Config {
	cfg := config.Default()
	cfg.Distros = nil
	for i, b := range distro.Builtin() {
		if i == d {
			break
		}
		cfg.Distros = append(cfg.Distros, b)
	}
	for i := len(cfg.Distros); i < d; i++ {
		cfg.Distros = append(cfg.Distros, distro.Custom(fmt.Sprintf("custom-%d", i), "img", distro.Apt))
	}
	cfg.Arch = arch
	return cfg
}

func TestMakeShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		distros, arches, versions int
		wantJobs, wantPerJob      int
	}{
		{1, 1, 1, 1, 1},
		{12, 2, 8, 192, 1}, // the 12 x 2 x 8: fits
		{13, 2, 10, 260 / 2, 2},
		{16, 2, 16, 256, 2},
		{16, 2, 17, 16 * 2 * 6, 3},
		{128, 2, 3, 256, 3},
		{100, 2, 40, 200, 40},
	}
	for _, tt := range tests {
		arch := []string{"amd64", "arm64"}[:tt.arches]
		p, err := Make(sized(tt.distros, arch...), targets(tt.versions), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Matrix.Include) != tt.wantJobs || p.PerJob != tt.wantPerJob {
			t.Errorf("%dx%dx%d: %d jobs of %d versions, want %d of %d",
				tt.distros, tt.arches, tt.versions, len(p.Matrix.Include), p.PerJob, tt.wantJobs, tt.wantPerJob)
		}
		if p.Cells != tt.distros*tt.arches*tt.versions {
			t.Errorf("cells = %d", p.Cells)
		}
		if (p.PerJob > 1) != (len(p.Notes) > 0) {
			t.Errorf("coarsening not explained: %v", p.Notes)
		}
		checkCovers(t, p, tt.distros*tt.arches*tt.versions)
	}
}

// checkCovers asserts every cell is in exactly one job, IDs are unique and
// the limit holds.
func checkCovers(t *testing.T, p Plan, cells int) {
	t.Helper()
	if len(p.Matrix.Include) > MaxJobs {
		t.Errorf("%d jobs, over %d", len(p.Matrix.Include), MaxJobs)
	}
	seen, ids := map[string]bool{}, map[string]bool{}
	for _, j := range p.Matrix.Include {
		if ids[j.ID] {
			t.Errorf("duplicate job id %s", j.ID)
		}
		ids[j.ID] = true
		for _, v := range strings.Split(j.Nginx, ",") {
			c := v + "/" + j.Distro + "/" + j.Arch
			if seen[c] {
				t.Errorf("cell %s in two jobs", c)
			}
			seen[c] = true
		}
	}
	if len(seen) != cells {
		t.Errorf("jobs cover %d cells, want %d", len(seen), cells)
	}
}

func TestMakeNeverExceedsLimit(t *testing.T) {
	t.Parallel()
	for d := 1; d <= 128; d += 9 {
		for v := 1; v <= 64; v += 7 {
			p, err := Make(sized(d, "amd64", "arm64"), targets(v), nil)
			if err != nil {
				t.Fatal(err)
			}
			checkCovers(t, p, d*2*v)
		}
	}
}

func TestMakeTooManyDistros(t *testing.T) {
	t.Parallel()
	_, err := Make(sized(129, "amd64", "arm64"), targets(1), nil)
	if err == nil || !strings.Contains(err.Error(), "258 jobs") {
		t.Errorf("err = %v", err)
	}
}

func TestMakeSkipsBuilt(t *testing.T) {
	t.Parallel()
	cfg := sized(2, "amd64", "arm64")
	built := func(nginx, d, a string) (bool, string) {
		return nginx == "1.30.0" || (d == "debian-11" && a == "arm64"), "test"
	}
	p, err := Make(cfg, targets(3), built)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range p.Matrix.Include {
		got = append(got, j.ID)
	}
	want := []string{"1.29.1-debian-11-amd64", "1.29.1-debian-12-amd64", "1.29.1-debian-12-arm64",
		"1.28.2-debian-11-amd64", "1.28.2-debian-12-amd64", "1.28.2-debian-12-arm64"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if p.Built != 6 || p.Cells != 6 || strings.Join(p.Versions, " ") != "1.29.1 1.28.2" {
		t.Errorf("built %d cells %d versions %v", p.Built, p.Cells, p.Versions)
	}
	all := func(string, string, string) (bool, string) { return true, "built" }
	p, err = Make(cfg, targets(3), all)
	if err != nil || p.HasWork() || p.Matrix.Include == nil {
		t.Errorf("everything built: has work %v, include %v, err %v", p.HasWork(), p.Matrix.Include, err)
	}
}

func TestMakeJobFields(t *testing.T) {
	t.Parallel()
	p := planOf(t, "distros: [debian-12, alpine-3.22]\narch: [amd64, arm64]\nnginx: {plus: [R34]}\n")
	j := p.Matrix.Include[len(p.Matrix.Include)-1]
	want := Job{ID: "1.27.4-alpine-3.22-arm64", Name: "nginx 1.27.4 alpine-3.22 arm64", Nginx: "1.27.4", Line: "mainline",
		Plus: []string{"R34"}, Distro: "alpine-3.22", Image: "alpine:3.22", Arch: "arm64", RunsOn: "ubuntu-24.04-arm"}
	if diff := cmp.Diff(want, j); diff != "" {
		t.Errorf("last job (-want +got):\n%s", diff)
	}
	if len(p.Matrix.Include) != 12 || p.Matrix.Include[0].ID != "1.31.4-debian-12-amd64" {
		t.Errorf("jobs: %d, first %s", len(p.Matrix.Include), p.Matrix.Include[0].ID)
	}
}

// bigConfig is 12 modules x 12 distros x 2 arches, 4 newest of each line:
// 8 nginx versions.
func bigConfig(b *testing.B) (*config.Config, string) {
	b.Helper()
	var mods strings.Builder
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&mods, "  - git: https://github.com/example/mod%d\n", i)
	}
	yml := "nginx: {lines: [stable, mainline], latest: 4}\nmodules:\n" + mods.String() +
		"distros: [debian-11, debian-12, debian-13, ubuntu-20.04, ubuntu-22.04, ubuntu-24.04, rocky-8, rocky-9, almalinux-8, almalinux-9, amazonlinux-2023, alpine-3.22]\n" +
		"arch: [amd64, arm64]\n"
	return cfgWith(b, yml), yml
}

// BenchmarkPlan12x12x2x8 plans 12 modules x 12 distros x 2 arches x 8
// nginx versions, from selection to matrix. bench/plan compares it with
// BenchmarkConfigParse, the baseline every plan run also pays.
func BenchmarkPlan12x12x2x8(b *testing.B) {
	cfg, _ := bigConfig(b)
	b.ReportAllocs()
	jobs := 0
	for b.Loop() {
		ts, _, err := Select(cfg.Nginx, cfg.Distros, upstreamReleases, plus.Embedded())
		if err != nil {
			b.Fatal(err)
		}
		p, err := Make(cfg, ts, nil)
		if err != nil {
			b.Fatal(err)
		}
		jobs = len(p.Matrix.Include)
	}
	if jobs != 192 {
		b.Fatalf("%d jobs, want 192", jobs)
	}
	b.ReportMetric(float64(jobs), "jobs")
}

// BenchmarkConfigParse is the baseline for BenchmarkPlan12x12x2x8: parsing
// the same config file.
func BenchmarkConfigParse(b *testing.B) {
	_, yml := bigConfig(b)
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := config.Parse("test.yml", dir, []byte(yml)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSelectPackaged is issue 16's distro-packaged nginx: each distro's
// own nginx version, built for that distro only; a version also selected
// for every distro stays unrestricted; a distro whose nginx moves within a
// release is named in a note unless the config gives its version.
func TestSelectPackaged(t *testing.T) {
	t.Parallel()
	cfg := cfgWith(t, `nginx: {lines: [stable], latest: 1, versions: [1.26.3], packaged: true}
distros: [debian-12, ubuntu-24.04, debian-13, fedora-44, {name: alpine-3.22, packaged: 1.28.0}]
`)
	ts, notes, err := Select(cfg.Nginx, cfg.Distros, upstreamReleases, plus.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range ts {
		got = append(got, fmt.Sprintf("%s %v %v", x.Nginx, x.Why, x.Distros))
	}
	want := []string{
		"1.30.4 [latest stable] []",
		"1.28.0 [packaged by alpine-3.22] [alpine-3.22]",
		"1.26.3 [versions packaged by debian-13] []",
		"1.24.0 [packaged by ubuntu-24.04] [ubuntu-24.04]",
		"1.22.1 [packaged by debian-12] [debian-12]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Select (-want +got):\n%s", diff)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "fedora-44 moves its nginx package") || !strings.Contains(notes[0], "{name: fedora-44, packaged: 1.x.y}") {
		t.Errorf("notes = %q", notes)
	}
	p, err := Make(cfg, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	cells := map[string][]string{}
	for _, c := range p.Report {
		cells[c.Nginx] = append(cells[c.Nginx], c.Distro)
	}
	if diff := cmp.Diff(map[string][]string{
		"1.30.4": {"debian-12", "ubuntu-24.04", "debian-13", "fedora-44", "alpine-3.22"},
		"1.28.0": {"alpine-3.22"},
		"1.26.3": {"debian-12", "ubuntu-24.04", "debian-13", "fedora-44", "alpine-3.22"},
		"1.24.0": {"ubuntu-24.04"},
		"1.22.1": {"debian-12"},
	}, cells); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	if p.Cells != 13 || len(p.Matrix.Include) != 13 {
		t.Errorf("cells %d jobs %d, want 13", p.Cells, len(p.Matrix.Include))
	}
	// Without the switch, the table's versions are not built.
	cfg.Nginx.Packaged = false
	ts, _, _ = Select(cfg.Nginx, cfg.Distros, upstreamReleases, plus.Embedded())
	if len(ts) != 2 {
		t.Errorf("packaged off: %d versions, want 2", len(ts))
	}
}

func TestMakeReportsReasons(t *testing.T) {
	t.Parallel()
	cfg := sized(1, "amd64")
	built := func(nginx, d, a string) (bool, string) {
		if nginx == "1.30.0" {
			return true, "already built from abc"
		}
		return false, "mod changed: built from abc, now def"
	}
	ts := targets(2)
	p, err := Make(cfg, ts, built)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Report {
		got = append(got, fmt.Sprintf("%s %s %t %s", c.Nginx, c.Distro, c.Planned, c.Reason))
	}
	want := []string{
		"1.30.0 debian-11 false already built from abc",
		"1.29.1 debian-11 true " + strings.Join(ts[1].Why, ", ") + "; mod changed: built from abc, now def",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

// TestSelectImageTarget is issue 31's image targets: a distro whose nginx
// is an image's gets one cell, for that nginx's version, with its path as
// the job's like; no other version is built for it, and the other
// distros do not get its version unless something else selects it.
func TestSelectImageTarget(t *testing.T) {
	t.Parallel()
	p := planOf(t, `nginx: {lines: [stable], latest: 1, versions: [1.26.3], packaged: true}
distros: [debian-12, {name: nginx-docker-1.28, image: "nginx:1.28.0", family: apt, like: /usr/sbin/nginx, packaged: 1.28.0}, {name: custom-1.26, image: "acme/nginx:1.26.3", family: apt, like: /opt/nginx/sbin/nginx, packaged: 1.26.3}]
`)
	var got []string
	for _, j := range p.Matrix.Include {
		got = append(got, fmt.Sprintf("%s %s %s like=%s", j.Nginx, j.Distro, j.Image, j.Like))
	}
	sort.Strings(got)
	want := []string{
		"1.22.1 debian-12 debian:12 like=",
		"1.26.3 custom-1.26 acme/nginx:1.26.3 like=/opt/nginx/sbin/nginx",
		"1.26.3 debian-12 debian:12 like=",
		"1.28.0 nginx-docker-1.28 nginx:1.28.0 like=/usr/sbin/nginx",
		"1.30.4 debian-12 debian:12 like=",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
}

// planOf plans the config yml against upstreamReleases.
func planOf(t *testing.T, yml string) Plan {
	t.Helper()
	cfg := cfgWith(t, yml)
	ts, _, err := Select(cfg.Nginx, cfg.Distros, upstreamReleases, plus.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Make(cfg, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
