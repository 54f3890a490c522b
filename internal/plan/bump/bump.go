package bump

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
)

// Target picks the version to move pin to: the newest release of pin's
// line (policy "line") or of any of lines (policy "latest"), within the
// config's constraint. It returns the line the branch is named after.
func Target(n config.Nginx, policy string, releases []*version.Version) (target, line string, err error) {
	pv, err := nginxver.Parse(n.Pin)
	if err != nil {
		return "", "", fmt.Errorf("nginx.pin: %w", err)
	}
	line = string(nginxver.LineOf(pv))
	var best *version.Version
	for _, r := range releases {
		l := nginxver.LineOf(r)
		switch policy {
		case config.PolicyLatest:
			if !slices.Contains(n.Lines, l) {
				continue
			}
		default:
			if string(l) != line {
				continue
			}
		}
		if !n.Allows(r) {
			continue
		}
		if best == nil || r.GreaterThan(best) {
			best = r
		}
	}
	if policy == config.PolicyLatest {
		line = "latest"
	}
	if best == nil || !best.GreaterThan(pv) {
		return n.Pin, line, nil
	}
	return nginxver.String(best), line, nil
}

// Options configure a bump.
type Options struct {
	Config *config.Config
	// ConfigPath is the config file's path in the repository, when it is
	// there: it holds nginx.pin.
	ConfigPath string
	// Target is the version to move to; Line names the branch.
	Target, Line string
	// Compat is Markdown about the modules' builds for Target (the
	// release's compatibility table), or "".
	Compat string
	// DryRun prints the diff and the pull request to Out instead.
	DryRun bool
	Out    io.Writer
}

// Change is one rewritten line.
type Change struct {
	Path, Form string
	Line       int
	Old, New   string
}

// Result says what a bump did.
type Result struct {
	From, To string
	Branch   string
	Changes  []Change
	// Action is opened, updated, unchanged, up-to-date, closed or dry-run.
	Action string
	Pull   *Pull
	Title  string
	Body   string
	Diff   string
	// Files are the changed files' new contents (Preview only).
	Files map[string][]byte `json:"-"`
}

// maxFile bounds the files read for pins.
const maxFile = 1 << 20

// Tree is the read side of a repository: the files of its default
// branch. GitHub's API is one (the branch's head commit); the working
// tree is another (Local).
type Tree interface {
	DefaultBranch(ctx context.Context) (string, error)
	// Head is the commit a branch points at (ErrNotFound if none).
	Head(ctx context.Context, branch string) (string, error)
	// Commit returns a commit's tree SHA, parents and all its files.
	Commit(ctx context.Context, sha string) (tree string, parents []string, files []TreeFile, err error)
	Blob(ctx context.Context, sha string) ([]byte, error)
}

// edit is a bump worked out on a tree: the result without a pull request,
// the new contents of the changed files, and where they came from.
type edit struct {
	res              *Result
	changed          map[string][]byte
	paths            []string
	byPath           map[string]TreeFile
	base, head, tree string
}

// Preview works out a bump on t (the working tree, say) without pushing
// anything: the result's Diff, Changes, Title and Body, and Files, the
// changed files' new contents.
func Preview(ctx context.Context, t Tree, o Options) (*Result, error) {
	e, err := edits(ctx, t, o)
	if err != nil {
		return nil, err
	}
	if e.res.Action == "" {
		e.res.Action = "dry-run"
	}
	e.res.Files = e.changed
	return e.res, nil
}

// Run finds the pins, and opens or updates the pull request.
func Run(ctx context.Context, gh GitHub, o Options) (*Result, error) {
	e, err := edits(ctx, gh, o)
	if err != nil {
		return nil, err
	}
	res := e.res
	if res.Action == "up-to-date" {
		// A bump pull request still open is no longer needed.
		if !o.DryRun {
			p, err := gh.OpenPull(ctx, res.Branch)
			if err != nil {
				return nil, fmt.Errorf("find the pull request of %s: %w", res.Branch, err)
			}
			if p != nil {
				if err := gh.ClosePull(ctx, p.Number); err != nil {
					return nil, fmt.Errorf("close pull request #%d: %w", p.Number, err)
				}
				res.Action, res.Pull = "closed", p
			}
		}
		return res, nil
	}
	if o.DryRun {
		res.Action = "dry-run"
		if o.Out != nil {
			fmt.Fprintf(o.Out, "%s\nWould push branch %s and open or update the pull request:\n\n  %s\n\n%s\n",
				res.Diff, res.Branch, res.Title, indent(res.Body))
		}
		return res, nil
	}
	return e.push(ctx, gh, o)
}

// edits reads the pins on the default branch of t and works out the
// changed files.
func edits(ctx context.Context, t Tree, o Options) (*edit, error) {
	cfg := o.Config
	pin := cfg.Nginx.Pin
	if pin == "" {
		return nil, &config.Error{File: cmp.Or(o.ConfigPath, config.DefaultPath), Msg: "bump needs nginx.pin: the nginx version this repository pins"}
	}
	res := &Result{From: pin, To: o.Target, Branch: "nginx-modbuild/nginx-" + o.Line}
	base, err := t.DefaultBranch(ctx)
	if err != nil {
		return nil, fmt.Errorf("find the default branch: %w", err)
	}
	head, err := t.Head(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("find branch %s: %w", base, err)
	}
	tree, _, files, err := t.Commit(ctx, head)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", head, err)
	}
	byPath := map[string]TreeFile{}
	for _, f := range files {
		byPath[f.Path] = f
	}

	contents, occ, err := findPins(ctx, t, files, byPath, base, o)
	if err != nil {
		return nil, err
	}
	if len(occ) == 0 {
		return nil, fmt.Errorf("nginx.pin is %s, but no file on branch %s holds it (commit the config, or declare the pins under bump.files)", pin, base)
	}

	if o.Target == pin {
		res.Action = "up-to-date"
		return &edit{res: res}, nil
	}

	changed, paths, diff := applyPins(contents, occ, o.Target, res)
	res.Diff = diff
	res.Title = fmt.Sprintf("Bump nginx from %s to %s", pin, o.Target)
	res.Body = body(res, o)
	return &edit{res: res, changed: changed, paths: paths, byPath: byPath, base: base, head: head, tree: tree}, nil
}

// findPins reads the files that may hold the pin (candidates by name,
// the config, bump.files) and finds every occurrence of it, by path,
// with each such file's contents.
func findPins(ctx context.Context, t Tree, files []TreeFile, byPath map[string]TreeFile, base string, o Options) (map[string][]byte, map[string][]Occurrence, error) {
	cfg, pin := o.Config, o.Config.Nginx.Pin
	declared := map[string][]config.BumpFile{}
	for _, d := range cfg.Bump.Files {
		if _, ok := byPath[d.Path]; !ok {
			return nil, nil, fmt.Errorf("bump.files: %s is not in the repository (branch %s)", d.Path, base)
		}
		declared[d.Path] = append(declared[d.Path], d)
	}
	contents := map[string][]byte{}
	occ := map[string][]Occurrence{}
	for _, f := range files {
		if !Candidate(f.Path) && f.Path != o.ConfigPath && declared[f.Path] == nil {
			continue
		}
		if f.Size > maxFile {
			continue
		}
		data, err := t.Blob(ctx, f.SHA)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		if bytes.IndexByte(data, 0) >= 0 {
			continue // binary
		}
		contents[f.Path] = data
		found := Find(f.Path, data, pin)
		if f.Path == o.ConfigPath {
			c, err := FindConfig(f.Path, data, pin, cfg.Nginx.PinPos)
			if err != nil {
				return nil, nil, err
			}
			found = append(found, c)
		}
		for _, d := range declared[f.Path] {
			more, err := FindDeclared(d, data, pin)
			if err != nil {
				return nil, nil, err
			}
			found = append(found, more...)
		}
		if len(found) > 0 {
			occ[f.Path] = dedupe(found)
		}
	}
	return contents, occ, nil
}

// applyPins moves every occurrence to target: the changed files, their
// paths sorted and the diff; each changed line is recorded in res.
func applyPins(contents map[string][]byte, occ map[string][]Occurrence, target string, res *Result) (map[string][]byte, []string, string) {
	paths := make([]string, 0, len(occ))
	for p := range occ {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	changed := map[string][]byte{}
	var diff strings.Builder
	for _, p := range paths {
		old := contents[p]
		updated := Apply(old, occ[p], target)
		changed[p] = updated
		diff.WriteString(Diff(p, old, updated))
		seen := map[int]bool{}
		for _, x := range occ[p] {
			if seen[x.Line] {
				continue
			}
			seen[x.Line] = true
			res.Changes = append(res.Changes, Change{Path: p, Form: x.Form, Line: x.Line,
				Old: LineText(old, x.Line), New: LineText(updated, x.Line)})
		}
	}
	return changed, paths, diff.String()
}

// push commits the edit to the bump branch (unless the branch holds it
// already) and opens or updates the pull request.
func (e *edit) push(ctx context.Context, gh GitHub, o Options) (*Result, error) {
	res, cfg := e.res, o.Config
	changed, paths, byPath, base, head, tree := e.changed, e.paths, e.byPath, e.base, e.head, e.tree
	// Is the branch already this change on this base?
	moved := true
	branchHead, err := gh.Head(ctx, res.Branch)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("find branch %s: %w", res.Branch, err)
	}
	if exists {
		_, parents, bfiles, err := gh.Commit(ctx, branchHead)
		if err != nil {
			return nil, err
		}
		if len(parents) == 1 && parents[0] == head && sameFiles(bfiles, changed) {
			moved = false
		}
	}
	if moved {
		var entries []TreeFile
		for _, p := range paths {
			sha, err := gh.CreateBlob(ctx, changed[p])
			if err != nil {
				return nil, fmt.Errorf("create blob for %s: %w", p, err)
			}
			entries = append(entries, TreeFile{Path: p, Mode: byPath[p].Mode, SHA: sha})
		}
		newTree, err := gh.CreateTree(ctx, tree, entries)
		if err != nil {
			return nil, fmt.Errorf("create tree: %w", err)
		}
		commit, err := gh.CreateCommit(ctx, res.Title, newTree, []string{head})
		if err != nil {
			return nil, fmt.Errorf("create commit: %w", err)
		}
		if exists {
			err = gh.MoveBranch(ctx, res.Branch, commit)
		} else {
			err = gh.CreateBranch(ctx, res.Branch, commit)
		}
		if err != nil {
			return nil, fmt.Errorf("push branch %s: %w", res.Branch, err)
		}
	}

	p, err := gh.OpenPull(ctx, res.Branch)
	if err != nil {
		return nil, fmt.Errorf("find the pull request of %s: %w", res.Branch, err)
	}
	switch {
	case p == nil:
		if p, err = gh.CreatePull(ctx, res.Title, res.Body, res.Branch, base); err != nil {
			return nil, fmt.Errorf("open the pull request: %w", err)
		}
		res.Action = "opened"
	case p.Title != res.Title || p.Body != res.Body:
		if err := gh.EditPull(ctx, p.Number, res.Title, res.Body); err != nil {
			return nil, fmt.Errorf("update pull request #%d: %w", p.Number, err)
		}
		res.Action = "updated"
	case moved:
		res.Action = "updated"
	default:
		res.Action = "unchanged"
	}
	res.Pull = p
	if missing := missingLabels(p.Labels, cfg.Bump.Labels); len(missing) > 0 {
		if err := gh.AddLabels(ctx, p.Number, missing); err != nil {
			return nil, fmt.Errorf("label pull request #%d: %w", p.Number, err)
		}
	}
	return res, nil
}

// sameFiles reports whether a tree holds the wanted contents, compared by
// git blob hash.
func sameFiles(files []TreeFile, want map[string][]byte) bool {
	have := map[string]string{}
	for _, f := range files {
		have[f.Path] = f.SHA
	}
	for p, data := range want {
		if have[p] != BlobSHA(data) {
			return false
		}
	}
	return true
}

// BlobSHA is git's name for a blob with this content.
func BlobSHA(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func missingLabels(have, want []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// ChangesURL is nginx's list of changes in a version's branch.
func ChangesURL(v string) string {
	pv, err := nginxver.Parse(v)
	if err != nil || nginxver.LineOf(pv) == nginxver.Mainline {
		return "https://nginx.org/en/CHANGES"
	}
	seg := pv.Segments()
	return fmt.Sprintf("https://nginx.org/en/CHANGES-%d.%d", seg[0], seg[1])
}

func body(res *Result, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Bumps the pinned nginx from %s to %s", res.From, res.To)
	if o.Line != "latest" {
		fmt.Fprintf(&b, ", the newest %s release", o.Line)
	} else {
		b.WriteString(", the newest release")
	}
	fmt.Fprintf(&b, ".\n\nChanges in nginx %s: %s\n\n### Files\n\n", res.To, ChangesURL(res.To))
	for _, c := range res.Changes {
		fmt.Fprintf(&b, "- `%s` line %d (%s): `%s` → `%s`\n", c.Path, c.Line, c.Form, strings.TrimSpace(c.Old), strings.TrimSpace(c.New))
	}
	b.WriteString("\n")
	if o.Compat != "" {
		b.WriteString(o.Compat)
		if !strings.HasSuffix(o.Compat, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("---\nOpened by nginx-modbuild; it updates this pull request when nginx releases again, and closes it when the pin moves by other means.\n")
	return b.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}
