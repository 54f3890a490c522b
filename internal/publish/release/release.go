// Package release attaches built module files to a GitHub release,
// idempotently: new files are uploaded, changed ones replaced, unchanged
// ones skipped, judged by the SHA-256s in the release's manifest.json. The
// manifest (the project's only state) and SHA256SUMS are written last, and
// the manifest is replaced through a temporary asset and a rename, so a
// crash at any point leaves a valid manifest, and concurrent runs merge
// rather than overwrite each other's entries.
package release

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// Asset names the release keeps besides the module files.
const (
	ManifestName = "manifest.json"
	SumsName     = "SHA256SUMS"
	// MaxAssets is GitHub's limit of assets per release.
	MaxAssets = 1000
)

// Options configure a sync.
type Options struct {
	// Tag is the release's tag; "" means the latest release.
	Tag string
	// Create creates the release when it does not exist.
	Create bool
	// Dist holds the build cells' output: .so files and cell manifests,
	// in any subdirectories (one per downloaded artifact, say).
	Dist string
	// Parallel bounds concurrent uploads (default 4).
	Parallel int
	// RunID names this run's temporary assets (default random).
	RunID string
	Logf  func(format string, args ...any)
	// Spread puts the builds in one release per nginx line ("line":
	// TAG-nginx-1.26) or version ("version": TAG-nginx-1.26.3), each with
	// its manifest and checksums; the release TAG then holds index.json,
	// the merged manifest every reader uses. "" is one release.
	Spread string

	// Index, with ToDir, makes what is derived from the whole directory
	// (the package repositories) from the manifest as it is then, while
	// the directory's lock is held: a concurrent publish waits, so no
	// index misses what another run added. It returns the files written.
	Index func(m *manifest.Manifest) ([]string, error)
	// Sign, when set, signs every unsigned package of dist (build holds
	// no key: it runs module code) before it is published, made at built
	// (the build's time); the release holds the signed bytes.
	Sign func(format string, data []byte, built time.Time) ([]byte, error)
}

// Result says what a sync did.
type Result struct {
	Release *Release
	// Asset names by what happened to them.
	Uploaded, Replaced, Unchanged []string
	// Kept are files another run uploaded first with different bytes;
	// theirs stays, and so does their manifest entry.
	Kept     []string
	Manifest *manifest.Manifest
	// Wrote lists the bookkeeping assets rewritten (manifest.json,
	// SHA256SUMS, release notes).
	Wrote []string
	// Cells are the build cells found in dist, with their failures.
	Cells []manifest.Cell
}

// local is a built file found in dist.
type local struct {
	entry manifest.Entry // File is the asset name
	path  string
	data  []byte
}

// Collect finds the built files of every cell manifest under dist and
// checks each against its SHA-256; it returns them with the cells. A dist
// with no cell manifest but a release's manifest.json at its top (a
// release downloaded, or written by release --dir) gives the files that
// manifest lists.
func Collect(dist string) ([]local, []manifest.Cell, error) {
	var out []local
	var cells []manifest.Cell
	seen := map[string]int{}
	files, err := manifest.CellFiles(dist)
	if err != nil {
		return nil, nil, err
	}
	if top := filepath.Join(dist, ManifestName); len(files) == 0 {
		if _, err := os.Stat(top); err == nil {
			files = []string{top}
		}
	}
	for _, p := range files {
		m, err := manifest.Read(p)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range m.Cells {
			if c.Incremental {
				return nil, nil, fmt.Errorf("%s: the nginx %s %s/%s cell was built incrementally (build --incremental: a pull-request check's kept tree, whose objects nothing proves): refused; release only builds from clean", p, c.Nginx, c.Distro, c.Arch)
			}
		}
		cells = append(cells, m.Cells...)
		for _, e := range m.Entries {
			if err := e.Check(); err != nil {
				return nil, nil, fmt.Errorf("%s: %w: refused (a manifest names files beside it, never elsewhere)", p, err)
			}
			file := filepath.Join(filepath.Dir(p), e.File)
			if fi, err := os.Lstat(file); err == nil && !fi.Mode().IsRegular() {
				return nil, nil, fmt.Errorf("%s lists %s, which is not a regular file: refused", p, e.File)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, nil, fmt.Errorf("%s lists %s: %w", p, e.File, err)
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != e.SHA256 {
				return nil, nil, fmt.Errorf("%s: SHA-256 %x, but %s says %s: the build output was changed", file, sum, p, e.SHA256)
			}
			e.File = e.Asset()
			if i, ok := seen[e.File]; ok {
				if out[i].entry.SHA256 != e.SHA256 {
					return nil, nil, fmt.Errorf("two different builds of %s in %s (%s and %s)", e.File, dist, out[i].path, file)
				}
				continue
			}
			seen[e.File] = len(out)
			out = append(out, local{entry: e, path: file, data: data})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].entry.File < out[j].entry.File })
	return out, cells, nil
}

// collect is Collect with every unsigned package signed, when o.Sign is
// set; a dist with nothing built is an error.
func (o Options) collect() ([]local, []manifest.Cell, error) {
	locals, cells, err := Collect(o.Dist)
	if err == nil && len(locals) == 0 {
		err = fmt.Errorf("no built files in %s (no manifest-*.json from the build command)", o.Dist)
	}
	if err != nil || o.Sign == nil {
		return locals, cells, err
	}
	for i, l := range locals {
		switch l.entry.Kind {
		case "deb", "rpm", "apk":
		default:
			continue
		}
		built, err := time.Parse(time.RFC3339, l.entry.BuiltAt)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: built_at %q: %w", l.path, l.entry.BuiltAt, err)
		}
		data, err := o.Sign(l.entry.Kind, l.data, built)
		if err != nil {
			return nil, nil, fmt.Errorf("sign %s: %w", l.path, err)
		}
		if data == nil { // signed already
			continue
		}
		sum := sha256.Sum256(data)
		locals[i].data, locals[i].entry.SHA256 = data, hex.EncodeToString(sum[:])
	}
	return locals, cells, nil
}

// Subjects are the checksum lines ("SHA256  name", as sha256sum prints
// them) of the files this release took from its own dist and holds with
// those bytes: what this run built, never what the release already held
// (a file another run, or anyone who can write the release, put there).
// An attestation of the run covers these and only these.
func (r *Result) Subjects() []byte {
	sums := map[string]string{}
	for _, e := range r.Manifest.Entries {
		sums[e.File] = e.SHA256
	}
	var names []string
	names = append(append(append(names, r.Uploaded...), r.Replaced...), r.Unchanged...)
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		if s, ok := sums[n]; ok {
			fmt.Fprintf(&b, "%s  %s\n", s, n)
		}
	}
	return b.Bytes()
}

// Sync makes the release hold exactly the files of dist (and whatever
// else it held), with a merged manifest, checksums and notes.
func Sync(ctx context.Context, gh GitHub, o Options) (*Result, error) {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.RunID == "" {
		b := make([]byte, 4)
		rand.Read(b)
		o.RunID = hex.EncodeToString(b)
	}
	if o.Spread != "" {
		return syncSpread(ctx, gh, o)
	}
	locals, cells, err := o.collect()
	if err != nil {
		return nil, err
	}
	return syncOne(ctx, gh, o, locals, cells)
}

// syncOne makes the release o.Tag hold locals (collected, signed) and
// cells, merged with what it held: Sync's one release, and each of a
// spread's.
func syncOne(ctx context.Context, gh GitHub, o Options, locals []local, cells []manifest.Cell) (*Result, error) {
	rel, err := findRelease(ctx, gh, o)
	if err != nil {
		return nil, err
	}
	res := &Result{Release: rel, Cells: cells}
	assets, err := listRoomFor(ctx, gh, rel, locals)
	if err != nil {
		return nil, err
	}
	snap, err := readManifests(ctx, gh, assets)
	if err != nil {
		return nil, err
	}
	jobs, ids := uploadsOf(locals, assets, snap.merged, res)
	dropped, err := upload(ctx, gh, rel, jobs, ids, res, o)
	if err != nil {
		return res, err
	}
	ours := &manifest.Manifest{Schema: manifest.Schema, Cells: cells}
	for _, l := range locals {
		if !dropped[l.entry.File] {
			e := l.entry
			e.AssetID = ids[e.File]
			ours.Entries = append(ours.Entries, e)
		}
	}
	if len(jobs) > 0 {
		snap = nil // the listing is stale: read afresh
	}
	if err := writeRecords(ctx, gh, rel, ours, snap, res, o); err != nil {
		return res, err
	}
	return res, lostTo(res.Manifest, ours)
}

// writeRecords writes the release's manifest (ours merged in), its
// checksums and its notes, each only when it changes.
func writeRecords(ctx context.Context, gh GitHub, rel *Release, ours *manifest.Manifest, snap *snapshot, res *Result, o Options) error {
	final, wrote, err := writeManifest(ctx, gh, rel, ours, snap, o)
	if err != nil {
		return err
	}
	res.Manifest = final.merged
	if wrote {
		res.Wrote = append(res.Wrote, ManifestName)
	}
	// final is a fresh read, taken after any write of ours.
	if wrote, err := writeSums(ctx, gh, rel, final.curManifestOr(res.Manifest), final, o); err != nil {
		return err
	} else if wrote {
		res.Wrote = append(res.Wrote, SumsName)
	}
	return editNotes(ctx, gh, rel, Notes(rel.Body, res.Manifest, strings.Replace(rel.HTMLURL, "/releases/tag/", "/releases/download/", 1)), res)
}

// editNotes gives the release the notes body, when it has other ones.
func editNotes(ctx context.Context, gh GitHub, rel *Release, body string, res *Result) error {
	if body == rel.Body {
		return nil
	}
	if err := gh.EditBody(ctx, rel.ID, body); err != nil {
		return fmt.Errorf("edit release notes of %s: %w", rel.Tag, err)
	}
	rel.Body = body
	res.Wrote = append(res.Wrote, "release notes")
	return nil
}

// lostTo reports the files of ours that a concurrent run replaced with
// different bytes: it won, and the release is consistent (its checksums
// are of the bytes there), but this run's build of them is not
// published.
func lostTo(final, ours *manifest.Manifest) error {
	there := map[string]manifest.Entry{}
	for _, e := range final.Entries {
		there[e.File] = e
	}
	var lost []string
	for _, e := range ours.Entries {
		if f, ok := there[e.File]; ok && f.SHA256 != e.SHA256 {
			lost = append(lost, e.File)
		}
	}
	if len(lost) == 0 {
		return nil
	}
	sort.Strings(lost)
	return fmt.Errorf("another run replaced %s with a different build while this one released: the release holds that build and its checksums; two builds of one cell disagree (re-run the cell to settle it)", strings.Join(lost, ", "))
}

func findRelease(ctx context.Context, gh GitHub, o Options) (*Release, error) {
	rel, err := gh.GetRelease(ctx, o.Tag)
	switch {
	case err == nil:
		return rel, nil
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("find release %s: %w", cmp.Or(o.Tag, "(latest)"), err)
	case o.Tag == "":
		return nil, errors.New("the repository has no release yet: name one with --tag (and --create to make it)")
	case !o.Create:
		return nil, fmt.Errorf("no release for tag %s: create it, or pass --create", o.Tag)
	}
	rel, err = gh.CreateRelease(ctx, o.Tag)
	if errors.Is(err, ErrExists) {
		// Another job created it first: GitHub's creation is not
		// atomic, so read it back.
		rel, err = gh.GetRelease(ctx, o.Tag)
	}
	if err != nil {
		return nil, fmt.Errorf("create release %s: %w", o.Tag, err)
	}
	o.Logf("created release %s", o.Tag)
	return rel, nil
}
