package release

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/markdown"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/repos"
)

// The compatibility table lives between these markers in the release
// notes; text around them is the maintainer's and is kept.
const (
	notesBegin = "<!-- nginx-modbuild:compat -->"
	notesEnd   = "<!-- /nginx-modbuild:compat -->"
)

// Notes returns body with its compatibility table regenerated from m
// (packages linked under download, the release's download URL prefix).
func Notes(body string, m *manifest.Manifest, download string) string {
	table := notesBegin + "\n## nginx-modbuild builds\n\n" + TableLinked(m, download) + installSection(m, download) + notesEnd
	if i := strings.Index(body, notesBegin); i >= 0 {
		if j := strings.Index(body[i:], notesEnd); j >= 0 {
			return body[:i] + table + body[i+j+len(notesEnd):]
		}
	}
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	if body != "" {
		body += "\n"
	}
	return body + table + "\n"
}

// Table is a Markdown table of modules x nginx versions (with the NGINX
// Plus releases based on them) x distro/arch: which files the release has.
func Table(m *manifest.Manifest) string { return TableLinked(m, "") }

// TableLinked is Table with each native package named in its cell, linked
// to download (the release's download URL prefix) when given.
func TableLinked(m *manifest.Manifest, download string) string {
	t := &compat{built: map[compatRow]map[string]bool{}, sos: map[compatRow]map[string]string{}, pkgs: map[compatRow]map[string][]string{},
		failed: map[compatRow]map[string]string{}, plus: map[string][]string{}, cols: map[string]bool{},
		from: map[compatRow][]string{}, source: map[compatRow]string{}, tests: testMarks(m)}
	t.addEntries(m.Entries, download)
	t.addFailures(m.Cells)
	return t.render()
}

// compatRow is one row of the compatibility table: a module and an nginx
// version; its columns are distro/arch.
type compatRow struct{ module, nginx string }

// compat is the compatibility table's contents, by row and column.
type compat struct {
	built  map[compatRow]map[string]bool
	sos    map[compatRow]map[string]string   // the .so files' links
	pkgs   map[compatRow]map[string][]string // the packages' links
	failed map[compatRow]map[string]string   // ✗ phase: reason
	plus   map[string][]string               // NGINX Plus releases by nginx version
	cols   map[string]bool
	from   map[compatRow][]string // the sources' short names
	source map[compatRow]string
	tests  map[testKey]string
}

// addEntries marks each built .so, and links each package in its cell.
func (t *compat) addEntries(entries []manifest.Entry, download string) {
	for _, e := range entries {
		r, col := compatRow{e.Module, e.Nginx}, e.Distro+"/"+e.Arch
		if e.Kind != "" {
			if t.pkgs[r] == nil {
				t.pkgs[r] = map[string][]string{}
			}
			link := e.Kind
			if download != "" {
				link = "[" + e.Kind + "](" + strings.TrimSuffix(download, "/") + "/" + e.File + ")"
			}
			t.pkgs[r][col] = append(t.pkgs[r][col], link)
			continue
		}
		if t.built[r] == nil {
			t.built[r] = map[string]bool{}
		}
		if s := shortSource(e); !slices.Contains(t.from[r], s) {
			t.from[r] = append(t.from[r], s)
		}
		t.built[r][col] = true
		if download != "" && e.File != "" {
			if t.sos[r] == nil {
				t.sos[r] = map[string]string{}
			}
			t.sos[r][col] = "[.so](" + strings.TrimSuffix(download, "/") + "/" + e.File + ")"
		}
		t.cols[col] = true
		t.source[r] = e.Source
		if len(e.Plus) > 0 {
			t.plus[e.Nginx] = e.Plus
		}
	}
}

// addFailures marks failed cells ✗ with the phase, for modules not built
// there.
func (t *compat) addFailures(cells []manifest.Cell) {
	for _, c := range cells {
		for _, f := range c.Failures {
			r, col := compatRow{f.Module, c.Nginx}, c.Distro+"/"+c.Arch
			if t.built[r][col] {
				continue
			}
			if t.built[r] == nil {
				t.built[r] = map[string]bool{}
			}
			if t.failed[r] == nil {
				t.failed[r] = map[string]string{}
			}
			first := f.Reason()
			if len(first) > 120 {
				first = first[:120] + "…"
			}
			t.failed[r][col] = "✗ " + string(f.Phase) + ": " + markdown.Cell(first)
			t.cols[col] = true
			if s := shortSource(manifest.Entry{Identity: f.Identity}); s != "?" && !slices.Contains(t.from[r], s) {
				t.from[r] = append(t.from[r], s)
			}
		}
	}
}

// cell is the text of one cell of the table.
func (t *compat) cell(k compatRow, col string) string {
	if !t.built[k][col] {
		return t.failed[k][col]
	}
	cell := "✓"
	if so := t.sos[k][col]; so != "" {
		cell += " " + so
	}
	if m := t.tests[testKey{t.source[k], k.nginx, col}]; m != "" {
		cell += " " + m
	}
	if p := t.pkgs[k][col]; len(p) > 0 {
		sort.Strings(p)
		cell += " " + strings.Join(p, " ")
	}
	return cell
}

// render writes the table: modules by name, newest nginx first.
func (t *compat) render() string {
	var colNames []string
	for c := range t.cols {
		colNames = append(colNames, c)
	}
	sort.Strings(colNames)
	var keys []compatRow
	for r := range t.built {
		keys = append(keys, r)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].module != keys[j].module {
			return keys[i].module < keys[j].module
		}
		return newer(keys[i].nginx, keys[j].nginx)
	})
	var b strings.Builder
	b.WriteString("### Compatibility\n\n")
	if len(keys) == 0 {
		b.WriteString("No modules built yet.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "| module | built from | nginx | %s |\n|---|---|---|%s\n", strings.Join(colNames, " | "), strings.Repeat("---|", len(colNames)))
	for _, k := range keys {
		nginx := k.nginx
		if p := t.plus[k.nginx]; len(p) > 0 {
			nginx += " (NGINX Plus " + strings.Join(p, ", ") + ")"
		}
		var cells []string
		for _, c := range colNames {
			cells = append(cells, t.cell(k, c))
		}
		sort.Strings(t.from[k])
		built := strings.Join(t.from[k], ", ")
		if built == "" {
			built = "?"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", k.module, built, nginx, strings.Join(cells, " | "))
	}
	if len(t.failed) > 0 {
		b.WriteString("\n✓ built · ✗ failed to build (phase: reason) · empty: not built\n")
	}
	if len(t.tests) > 0 {
		b.WriteString("\ntests N/M: the module's own tests that passed, of those that ran (skips declared in the config not counted)\n")
	}
	return b.String()
}

// testKey is a module source's tests in one cell.
type testKey struct{ source, nginx, col string }

// testMarks are the notes' words for each suite a cell ran: "tests
// 824/884", with ✗ when one failed.
func testMarks(m *manifest.Manifest) map[testKey]string {
	out := map[testKey]string{}
	for _, c := range m.Cells {
		for _, t := range c.Tests {
			mark := fmt.Sprintf("tests %d/%d", t.Passed, t.Ran-t.Skipped)
			if !t.OK() {
				mark = "✗ " + mark
			}
			if t.Error != "" {
				mark = "✗ tests did not run"
			}
			out[testKey{cmp.Or(t.Source, t.Module), c.Nginx, c.Distro + "/" + c.Arch}] = mark
		}
	}
	return out
}

// shortSource names the module content an entry was built from: its
// short commit ("-dirty" kept), or its content identity, or "?".
func shortSource(e manifest.Entry) string {
	commit, dirty := strings.CutSuffix(e.Commit, "-dirty")
	switch {
	case len(commit) >= 7:
		s := "`" + commit[:7] + "`"
		if dirty {
			s += " (uncommitted changes)"
		}
		return s
	case strings.HasPrefix(e.Identity, "tree:") && len(e.Identity) >= 17:
		return "`" + e.Identity[:17] + "`"
	}
	return "?"
}

// newer orders nginx versions newest first (unparseable ones last).
func newer(a, b string) bool {
	va, ea := nginxver.Parse(a)
	vb, eb := nginxver.Parse(b)
	if ea != nil || eb != nil {
		return a > b
	}
	return va.GreaterThan(vb)
}

// FailureTable is the Markdown table of the modules cells failed to build:
// cell, module, phase and reason, linked to the job's log when the cell
// has one. "" when nothing failed.
func FailureTable(cells []manifest.Cell) string {
	var rows [][]string
	for _, c := range cells {
		for _, f := range c.Failures {
			reason := f.Reason()
			if f.Log != "" {
				reason += " ([log](" + f.Log + "))"
			}
			rows = append(rows, []string{fmt.Sprintf("nginx %s %s/%s", c.Nginx, c.Distro, c.Arch), f.Module, string(f.Phase), reason})
		}
	}
	return markdown.Table([]string{"cell", "module", "phase", "reason"}, rows)
}

// installSection tells how to install from a release on GitHub (download
// is https://github.com/OWNER/REPO/releases/download/TAG): install --repo
// per module, and how to check a file's provenance by hand; "" elsewhere.
func installSection(m *manifest.Manifest, download string) string {
	rest, ok := strings.CutPrefix(download, "https://github.com/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) < 5 || parts[2] != "releases" || parts[3] != "download" {
		return ""
	}
	repo, tag := parts[0]+"/"+parts[1], parts[4]
	var mods []string
	for _, e := range m.Entries {
		if e.Kind == "" && !slices.Contains(mods, e.Module) {
			mods = append(mods, e.Module)
		}
	}
	sort.Strings(mods)
	var b strings.Builder
	b.WriteString("\n### Install\n\nThe build for the nginx a host runs (its version, distro and arch), verified (checksum, module, provenance), loaded with `nginx -t` and rolled back if that fails:\n\n")
	for _, mod := range mods {
		fmt.Fprintf(&b, "    sudo nginx-modbuild install --repo %s --tag %s %s\n", repo, tag, mod)
	}
	if len(mods) == 0 {
		fmt.Fprintf(&b, "    sudo nginx-modbuild install --repo %s --tag %s MODULE\n", repo, tag)
	}
	b.WriteString(aptSection(m, parts[0], parts[1]))
	fmt.Fprintf(&b, "\nOr download the file for your nginx version, distro and arch from the table (the packages depend on exactly that nginx). Every file is attested by the workflow that built it (when the workflow has the attest job): check one by hand with `gh attestation verify FILE --repo %s`.\n", repo)
	return b.String()
}

// aptSection is how to add the signed apt repository the pages job
// publishes for owner/repo (https://OWNER.github.io/REPO) and install
// the release's packages from it: one source line per suite and
// component the manifest's .deb packages go to, each saying which nginx
// it is for (a host lists the one its nginx comes from); "" without
// .deb packages.
func aptSection(m *manifest.Manifest, owner, repo string) string {
	type line struct{ suite, component, nginx string }
	var ls []line
	var pkgs []string
	for _, e := range m.Entries {
		d, component, ok := repos.AptPlace(e)
		if !ok {
			continue
		}
		l := line{suite: e.Distro, component: component}
		if d.Codename != "" {
			l.suite = d.Codename
		}
		if l.component == "main" {
			l.nginx = e.Distro + "'s own nginx " + e.Nginx
		} else {
			l.nginx = "nginx.org's " + strings.TrimPrefix(l.component, "nginx-") + " packages on " + e.Distro
		}
		if !slices.Contains(ls, l) {
			ls = append(ls, l)
		}
		if name, _, _ := strings.Cut(e.Package, "="); name != "" && !slices.Contains(pkgs, name) {
			pkgs = append(pkgs, name)
		}
	}
	if len(ls) == 0 {
		return ""
	}
	slices.SortFunc(ls, func(a, b line) int {
		return cmp.Or(cmp.Compare(a.suite, b.suite), cmp.Compare(a.component, b.component))
	})
	sort.Strings(pkgs)
	if len(pkgs) == 0 {
		pkgs = []string{"PACKAGE"}
	}
	url := "https://" + strings.ToLower(owner) + ".github.io/" + repo
	var b strings.Builder
	fmt.Fprintf(&b, "\nOr from the signed apt repository the `pages` job publishes at %s: the one source line for where the host's nginx comes from (one component, not all: apt would take the build for the newest nginx line everywhere):\n\n", url)
	b.WriteString("    sudo install -d -m 0755 /etc/apt/keyrings\n")
	fmt.Fprintf(&b, "    sudo curl -fsSL %s/nginx-modbuild.gpg -o /etc/apt/keyrings/nginx-modbuild.gpg\n", url)
	for _, l := range ls {
		fmt.Fprintf(&b, "    echo \"deb [signed-by=/etc/apt/keyrings/nginx-modbuild.gpg] %s %s %s\" | sudo tee /etc/apt/sources.list.d/nginx-modbuild.list   # %s\n", url, l.suite, l.component, l.nginx)
	}
	fmt.Fprintf(&b, "    sudo apt-get update && sudo apt-get install %s\n", strings.Join(pkgs, " "))
	return b.String()
}
