package cell

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modtest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/tap"
)

// configureExtra is the config's configure arguments, plus nginx's own
// modules the test suites need (test.needs) when tests run: stream and
// mail as --with-NAME, stream_X and mail_X as --with-NAME_module, the
// rest as --with-http_NAME_module. configure refuses a name it does not
// have, in its own words.
func (b *builder) configureExtra() []string {
	extra := slices.Clone(b.o.Configure)
	if b.o.Tests == nil {
		return extra
	}
	for _, m := range b.o.Modules {
		if m.Test == nil {
			continue
		}
		for _, n := range m.Test.Needs {
			arg := "--with-http_" + n + "_module"
			switch {
			case n == "stream" || n == "mail" || n == "debug":
				arg = "--with-" + n
			case strings.HasPrefix(n, "stream_") || strings.HasPrefix(n, "mail_"):
				arg = "--with-" + n + "_module"
			}
			if !slices.Contains(extra, arg) {
				extra = append(extra, arg)
			}
		}
	}
	return extra
}

// tests runs each module's own suite against nginx with every .so that
// loaded, in load order, and records it in the cell. A suite that fails
// is its module's failure when it is required.
func (b *builder) tests(ctx context.Context, nginx string, sos []*linked) {
	files := pathsOf(sos)
	for i, m := range b.o.Modules {
		if m.Test == nil {
			continue
		}
		if f := b.failureOf(m); f != nil {
			// No .so of it loaded: its suite could only fail again.
			b.c.Tests = append(b.c.Tests, manifest.Tests{Module: m.ID, Required: m.Test.Required,
				Error: fmt.Sprintf("not run: the module failed in phase %s", f.Phase)})
			b.o.Log.Printf("%s: its tests are not run: it failed in phase %s", m.ID, f.Phase)
			continue
		}
		title := "test " + filepath.Base(m.Dir)
		b.timed("test", title, func() error {
			if err := b.testPackagesErr[m.ID]; err != nil {
				b.recordTests(m, manifest.Tests{Module: m.ID, Required: m.Test.Required, Error: err.Error()})
				return nil
			}
			work := filepath.Join(b.o.WorkDir, "test", strconv.Itoa(i))
			if err := os.MkdirAll(work, 0o755); err != nil {
				return err
			}
			res, err := modtest.Run(ctx, modtest.Suite{Module: m.ID, Dir: m.Dir, Test: *m.Test}, modtest.Options{
				Nginx: nginx, Modules: files, WorkDir: work, Jobs: b.o.Jobs, PerlLib: b.o.Tests.PerlLib, Env: b.o.Tests.Env,
				Progress: func(file string, c tap.Counts, seconds float64) {
					b.o.Log.Printf("%s: %d passed, %d failed, %d skipped (%.1f s)", file, c.Passed, c.Failed, c.Skipped, seconds)
				}})
			if err != nil {
				res.Error = err.Error()
			}
			b.recordTests(m, res)
			return nil
		})
	}
}

// failureOf is the module's failure in this cell so far, if any.
func (b *builder) failureOf(m Module) *manifest.Failure {
	for i, f := range b.failed {
		if f.Source == m.ID {
			return &b.failed[i]
		}
	}
	return nil
}

// installTestPackages installs what the modules' tests need (test.
// packages) with the build's dependencies, before configure: a library
// of a module the tests need configured in (image_filter's libgd) too.
// A module whose packages do not install has its tests not run.
func (b *builder) installTestPackages(ctx context.Context) {
	if b.o.Tests == nil || b.o.Packages == nil {
		return
	}
	b.testPackagesErr = map[string]error{}
	for _, m := range b.o.Modules {
		if m.Test == nil || len(m.Test.Packages[b.o.Family]) == 0 {
			continue
		}
		pkgs := m.Test.Packages[b.o.Family]
		if err := b.o.Packages.Install(ctx, pkgs); err != nil {
			b.testPackagesErr[m.ID] = fmt.Errorf("install the packages its tests need (%s): %w", strings.Join(pkgs, " "), err)
		}
	}
}

// recordTests puts a suite's result in the cell, logs its failures and
// fails the module when the suite is required and did not pass.
func (b *builder) recordTests(m Module, t manifest.Tests) {
	b.c.Tests = append(b.c.Tests, t)
	b.o.Log.Printf("%s: %d tests: %d passed, %d failed, %d skipped (%d declared skips)", m.ID, t.Ran, t.Passed, t.Failed, t.Skipped, len(t.Skips))
	for _, f := range t.Files {
		for _, x := range f.Failures {
			b.o.Log.Printf("  FAIL %s:%d %s", f.File, x.Line, strings.TrimPrefix(x.Desc, f.File+" "))
		}
		if f.Problem != "" {
			b.o.Log.Printf("  %s: %s", f.File, f.Problem)
		}
	}
	if t.OK() {
		return
	}
	why := TestsSummary(t)
	if !t.Required {
		b.o.Log.Printf("%s: its tests failed, and test.required is false: the cell stays green", m.ID)
		return
	}
	b.fail(m, "", manifest.PhaseTest, why)
}

// TestsSummary says in one line what failed in a suite.
func TestsSummary(t manifest.Tests) string {
	if t.Error != "" {
		return "its tests did not run: " + t.Error
	}
	var first string
	for _, f := range t.Files {
		for _, x := range f.Failures {
			if first == "" {
				first = fmt.Sprintf("%s:%d %s", f.File, x.Line, strings.TrimPrefix(x.Desc, f.File+" "))
			}
		}
		if first == "" && f.Problem != "" {
			first = f.File + ": " + f.Problem
		}
	}
	return fmt.Sprintf("%d of %d tests failed, %d of %d files failed; first: %s", t.Failed, t.Ran, t.FailedFiles, len(t.Files), first)
}
