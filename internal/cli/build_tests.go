package cli

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modsrc"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/markdown"
)

// testFile is a suite's file as the repository names it (for an
// annotation): the module's directory relative to the working directory,
// then the file; "" for a module outside it (a git clone).
func testFile(d *Deps, mods []modsrc.Source, module, file string) string {
	for _, m := range mods {
		if m.ID != module {
			continue
		}
		rel, err := filepath.Rel(d.Dir, filepath.Join(m.Dir, file))
		if err != nil || strings.HasPrefix(rel, "..") {
			return ""
		}
		return filepath.ToSlash(rel)
	}
	return ""
}

// annotateTests puts each failed test of a cell at its block's line in
// the .t file (an error when the suite is required, else a warning).
func annotateTests(d *Deps, c manifest.Cell, mods []modsrc.Source) {
	for _, s := range c.Tests {
		level := "error"
		if !s.Required {
			level = "warning"
		}
		for _, f := range s.Files {
			path := testFile(d, mods, cmp.Or(s.Source, s.Module), f.File)
			for _, x := range f.Failures {
				msg := fmt.Sprintf("nginx %s %s: %s", c.Nginx, c.Distro, strings.TrimPrefix(x.Desc, f.File+" "))
				if x.Diag != "" {
					msg += "\n" + x.Diag
				}
				if path == "" || x.Line == 0 {
					d.Workflow.Annotate(level, map[string]string{"title": s.Module + " " + f.File}, msg)
					continue
				}
				d.Workflow.Annotate(level, map[string]string{"file": path, "line": strconv.Itoa(x.Line), "title": f.File}, msg)
			}
		}
	}
}

// testsSummary writes the modules' test results of the cells built: a
// table of counts per module and cell, the failed tests by file and
// block, and the skips the config declares, each with its reason.
func testsSummary(w io.Writer, cells []manifest.Cell) {
	var rows [][]string
	var failures, skips []string
	seenSkip := map[string]bool{}
	for _, c := range cells {
		where := fmt.Sprintf("nginx %s %s/%s", c.Nginx, c.Distro, c.Arch)
		for _, s := range c.Tests {
			status := "✓"
			switch {
			case s.Error != "":
				status = "✗ did not run: " + s.Error
			case !s.OK() && s.Required:
				status = "✗"
			case !s.OK():
				status = "✗ (not required)"
			}
			rows = append(rows, []string{s.Module, where, status, fmt.Sprint(s.Passed), fmt.Sprint(s.Failed), fmt.Sprint(s.Skipped),
				fmt.Sprintf("%d of %d", s.FailedFiles, len(s.Files)), fmt.Sprintf("%.0f s", s.Seconds)})
			for _, f := range s.Files {
				for _, x := range f.Failures {
					failures = append(failures, fmt.Sprintf("- %s, %s: `%s:%d` %s", s.Module, where, f.File, x.Line, markdown.Cell(strings.TrimPrefix(x.Desc, f.File+" "))))
				}
				if f.Problem != "" && len(f.Failures) == 0 {
					failures = append(failures, fmt.Sprintf("- %s, %s: `%s` %s", s.Module, where, f.File, markdown.Cell(f.Problem)))
				}
			}
			for _, sk := range s.Skips {
				what := sk.File
				if sk.Block > 0 {
					what += fmt.Sprintf(" TEST %d", sk.Block)
				}
				if key := s.Module + " " + what; !seenSkip[key] {
					seenSkip[key] = true
					skips = append(skips, fmt.Sprintf("- %s: `%s`: %s", s.Module, what, markdown.Cell(sk.Reason)))
				}
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "### The modules' own tests\n\n%s\n", markdown.Table(
		[]string{"module", "cell", "", "passed", "failed", "skipped", "files failed", "time"}, rows))
	if len(failures) > 0 {
		fmt.Fprintf(w, "**Failed tests**\n\n%s\n\n", strings.Join(failures, "\n"))
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "**Skipped by the config**\n\n%s\n\n", strings.Join(skips, "\n"))
	}
}

// testsDeclared refuses build --test when no module declares a suite: a
// check that asked for tests and ran none would pass green on nothing.
func testsDeclared(asked bool, cfg *config.Config) error {
	if !asked {
		return nil
	}
	for _, m := range cfg.Modules {
		if m.Test != nil {
			return nil
		}
	}
	return &config.Error{File: configName(cfg), Msg: "build --test: no module has a test: entry, so no test would run: add test: {prove: t/} (a Test::Nginx suite) or test: {run: ...} to the module's entry under modules:, or leave --test (the workflow's test: true) out"}
}
