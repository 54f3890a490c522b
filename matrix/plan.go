package matrix

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
)

// MaxJobs is GitHub's limit on the jobs one matrix may generate.
const MaxJobs = 256

// Job is one entry of strategy.matrix.include: a build of every module
// against one or more nginx versions, on one distribution and
// architecture. One configure builds all modules.
type Job struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Nginx is the version to build against; when the matrix had to be
	// coarsened, several comma-separated versions built in turn.
	Nginx string `json:"nginx"`
	// Line is the release line of each version, comma-separated likewise.
	Line   string   `json:"line"`
	Plus   []string `json:"plus"`
	Distro string   `json:"distro"`
	Image  string   `json:"image"`
	Arch   string   `json:"arch"`
	RunsOn string   `json:"runs-on"`
	// Like is the path of the image's nginx for a distro whose nginx is
	// the target (the build job's like input); "" for the others.
	Like string `json:"like,omitempty"`
}

// Matrix is the value for strategy.matrix.
type Matrix struct {
	Include []Job `json:"include"`
}

// Plan is the outcome of planning.
type Plan struct {
	Matrix Matrix `json:"matrix"`
	// Versions are the nginx versions with at least one cell to build.
	Versions []string `json:"versions"`
	// Cells counts (version, distro, arch) builds planned; Built those
	// skipped because the release manifest has them already.
	Cells, Built int `json:"-"`
	// PerJob is how many versions share a job: 1 unless the matrix would
	// exceed MaxJobs.
	PerJob int `json:"-"`
	// Notes explain anything a maintainer should know (coarsening).
	Notes []string `json:"-"`
	// Report is every cell considered, planned or skipped, with why.
	Report []Cell `json:"-"`
}

// Cell is one (version, distro, arch) build considered by the plan.
type Cell struct {
	Nginx, Distro, Arch string
	Planned             bool
	// Reason says why it is planned (the version's selection, a changed
	// module) or skipped (already built).
	Reason string
}

// HasWork reports whether there is anything to build.
func (p Plan) HasWork() bool { return len(p.Matrix.Include) > 0 }

// BuiltFunc reports whether a cell is already built (for every module),
// and why it is or is not ("module x changed", "not built yet").
type BuiltFunc func(nginx, distro, arch string) (bool, string)

type group struct {
	distro, arch string
	targets      []Target
}

// Make turns the config and selected versions into jobs: one per version x
// distro x arch, in that order (versions newest first, distros and arches
// as configured), leaving out cells built says exist. Beyond MaxJobs it
// puts several versions of one distro and arch into a job, as few as will
// fit; it fails only when distros x arches alone exceed MaxJobs.
func Make(cfg *config.Config, targets []Target, built BuiltFunc) (Plan, error) {
	p := Plan{PerJob: 1, Matrix: Matrix{Include: []Job{}}, Versions: []string{}}
	if n := len(cfg.Distros) * len(cfg.Arch); n > MaxJobs {
		return p, fmt.Errorf("%d distros x %d arches = %d jobs, over GitHub's %d per matrix: split the config",
			len(cfg.Distros), len(cfg.Arch), n, MaxJobs)
	}
	var groups []group
	wanted := map[string]bool{}
	for _, d := range cfg.Distros {
		for _, a := range cfg.Arch {
			g := group{distro: d.Name, arch: a}
			for _, t := range targets {
				if !t.For(d.Name) {
					continue
				}
				c := Cell{Nginx: t.Nginx, Distro: d.Name, Arch: a, Reason: strings.Join(t.Why, ", ")}
				if built != nil {
					done, why := built(t.Nginx, d.Name, a)
					if done {
						p.Built++
						c.Reason = why
						p.Report = append(p.Report, c)
						continue
					}
					if why != "" {
						c.Reason += "; " + why
					}
				}
				c.Planned = true
				p.Report = append(p.Report, c)
				g.targets = append(g.targets, t)
				wanted[t.Nginx] = true
			}
			p.Cells += len(g.targets)
			groups = append(groups, g)
		}
	}
	for _, t := range targets {
		if wanted[t.Nginx] {
			p.Versions = append(p.Versions, t.Nginx)
		}
	}
	for jobs(groups, p.PerJob) > MaxJobs {
		p.PerJob++
	}
	if p.PerJob > 1 {
		p.Notes = append(p.Notes, fmt.Sprintf(
			"%d builds exceed GitHub's %d jobs per matrix: each job builds up to %d nginx versions in turn (%d jobs)",
			p.Cells, MaxJobs, p.PerJob, jobs(groups, p.PerJob)))
	}
	images, likes := map[string]string{}, map[string]string{}
	for _, d := range cfg.Distros {
		images[d.Name], likes[d.Name] = d.Image, d.Like
	}
	for _, g := range groups {
		for i := 0; i < len(g.targets); i += p.PerJob {
			ts := g.targets[i:min(i+p.PerJob, len(g.targets))]
			j := job(g, ts, images[g.distro], cfg.RunsOn[g.arch])
			j.Like = likes[g.distro]
			p.Matrix.Include = append(p.Matrix.Include, j)
		}
	}
	sortJobs(p.Matrix.Include, targets)
	return p, nil
}

func jobs(groups []group, per int) int {
	n := 0
	for _, g := range groups {
		n += (len(g.targets) + per - 1) / per
	}
	return n
}

func job(g group, ts []Target, image, runsOn string) Job {
	var vs, lines []string
	plus := []string{}
	for _, t := range ts {
		vs = append(vs, t.Nginx)
		lines = append(lines, string(t.Line))
		plus = append(plus, t.Plus...)
	}
	nginx := strings.Join(vs, ",")
	return Job{
		ID:     fmt.Sprintf("%s-%s-%s", strings.Join(vs, "_"), g.distro, g.arch),
		Name:   fmt.Sprintf("nginx %s %s %s", strings.Join(vs, " "), g.distro, g.arch),
		Nginx:  nginx,
		Line:   strings.Join(lines, ","),
		Plus:   plus,
		Distro: g.distro,
		Image:  image,
		Arch:   g.arch,
		RunsOn: runsOn,
	}
}

// sortJobs orders jobs by their first version, newest first, so the newest
// nginx builds start first; the sort is stable, keeping the configured
// distro and arch order within a version.
func sortJobs(js []Job, targets []Target) {
	rank := map[string]int{}
	for i, t := range targets {
		rank[t.Nginx] = i
	}
	first := func(j Job) int {
		v, _, _ := strings.Cut(j.Nginx, ",")
		return rank[v]
	}
	sort.SliceStable(js, func(a, b int) bool { return first(js[a]) < first(js[b]) })
}
