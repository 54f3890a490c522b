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
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
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
	assets, err := gh.ListAssets(ctx, rel.ID)
	if err != nil {
		return nil, fmt.Errorf("list assets of release %s: %w", rel.Tag, err)
	}
	names := map[string]bool{ManifestName: true, SumsName: true}
	for _, a := range assets {
		names[a.Name] = true
	}
	for _, l := range locals {
		names[l.entry.File] = true
	}
	if len(names)+1 > MaxAssets {
		return nil, fmt.Errorf("release %s would hold %d assets, GitHub allows %d: spread the builds over several releases (release --spread line, or version) or prune old files; nothing was uploaded",
			rel.Tag, len(names), MaxAssets)
	}
	snap, err := readManifests(ctx, gh, assets)
	if err != nil {
		return nil, err
	}
	remote := snap.merged
	known := map[string]manifest.Entry{}
	for _, e := range remote.Entries {
		known[e.File] = e
	}
	byName := map[string]Asset{}
	for _, a := range assets {
		byName[a.Name] = a
	}

	// Upload what is new or changed, o.Parallel at a time.
	type job struct {
		l       local
		replace *Asset
	}
	var jobs []job
	ids := map[string]int64{} // file -> the asset holding our bytes
	for _, l := range locals {
		a, exists := byName[l.entry.File]
		switch {
		case !exists:
			jobs = append(jobs, job{l: l})
		case a.State == "uploaded" && a.Size == len(l.data) && known[l.entry.File].SHA256 == l.entry.SHA256 &&
			(known[l.entry.File].AssetID == 0 || known[l.entry.File].AssetID == a.ID):
			res.Unchanged = append(res.Unchanged, l.entry.File)
			ids[l.entry.File] = a.ID
		default:
			a := a
			jobs = append(jobs, job{l: l, replace: &a})
		}
	}
	var (
		mu      sync.Mutex
		g       errgroup.Group
		dropped = map[string]bool{}
	)
	g.SetLimit(o.Parallel)
	for _, j := range jobs {
		g.Go(func() error {
			outcome, id, err := put(ctx, gh, rel, j.l, j.replace)
			mu.Lock()
			defer mu.Unlock()
			ids[j.l.entry.File] = id
			if err != nil {
				return fmt.Errorf("upload %s: %w", j.l.entry.File, err)
			}
			o.Logf("%s %s", outcome, j.l.entry.File)
			switch outcome {
			case uploaded:
				res.Uploaded = append(res.Uploaded, j.l.entry.File)
			case replaced:
				res.Replaced = append(res.Replaced, j.l.entry.File)
			case unchanged:
				res.Unchanged = append(res.Unchanged, j.l.entry.File)
			case kept:
				res.Kept = append(res.Kept, j.l.entry.File)
				dropped[j.l.entry.File] = true
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	sort.Strings(res.Uploaded)
	sort.Strings(res.Replaced)
	sort.Strings(res.Unchanged)
	sort.Strings(res.Kept)

	ours := &manifest.Manifest{Schema: manifest.Schema, Cells: cells}
	for _, l := range locals {
		if !dropped[l.entry.File] {
			e := l.entry
			e.AssetID = ids[e.File]
			ours.Entries = append(ours.Entries, e)
		}
	}
	changed := len(jobs) > 0
	if changed {
		snap = nil // the listing is stale: read afresh
	}
	final, wrote, err := writeManifest(ctx, gh, rel, ours, snap, o)
	if err != nil {
		return res, err
	}
	res.Manifest = final.merged
	if wrote {
		res.Wrote = append(res.Wrote, ManifestName)
	}
	// final is a fresh read, taken after any write of ours.
	if wrote, err := writeSums(ctx, gh, rel, final.curManifestOr(res.Manifest), final, o); err != nil {
		return res, err
	} else if wrote {
		res.Wrote = append(res.Wrote, SumsName)
	}
	body := Notes(rel.Body, res.Manifest, strings.Replace(rel.HTMLURL, "/releases/tag/", "/releases/download/", 1))
	if body != rel.Body {
		if err := gh.EditBody(ctx, rel.ID, body); err != nil {
			return res, fmt.Errorf("edit release notes of %s: %w", rel.Tag, err)
		}
		rel.Body = body
		res.Wrote = append(res.Wrote, "release notes")
	}
	// A concurrent run that replaced one of our files with different
	// bytes won: the release is consistent (its checksums are of the
	// bytes there), but this run's build of those files is not published.
	final2 := map[string]manifest.Entry{}
	for _, e := range res.Manifest.Entries {
		final2[e.File] = e
	}
	var lost []string
	for _, e := range ours.Entries {
		if f, ok := final2[e.File]; ok && f.SHA256 != e.SHA256 {
			lost = append(lost, e.File)
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		return res, fmt.Errorf("another run replaced %s with a different build while this one released: the release holds that build and its checksums; two builds of one cell disagree (re-run the cell to settle it)", strings.Join(lost, ", "))
	}
	return res, nil
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

// outcome is what putting one file into the release came to.
type outcome string

const (
	uploaded  outcome = "uploaded"  // new in the release
	replaced  outcome = "replaced"  // other bytes were there under the name
	unchanged outcome = "unchanged" // the same bytes were there already
	kept      outcome = "kept"      // a concurrent run's other bytes won
)

// put uploads one file, replacing an asset when given, and survives a
// concurrent uploader: on 422 already_exists it looks at what is there.
func put(ctx context.Context, gh GitHub, rel *Release, l local, replace *Asset) (outcome, int64, error) {
	done := uploaded
	if replace != nil {
		done = replaced
		// The manifest does not (yet) vouch for it: a concurrent run may
		// have just uploaded these very bytes. Keep an identical asset.
		if replace.State == "uploaded" && replace.Size == len(l.data) {
			if data, err := gh.Download(ctx, replace.ID); err == nil && bytes.Equal(data, l.data) {
				return unchanged, replace.ID, nil
			}
		}
		if err := gh.Delete(ctx, replace.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return "", 0, err
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		a, err := gh.Upload(ctx, rel, l.entry.File, "", "application/octet-stream", l.data)
		if err == nil {
			return done, a.ID, nil
		}
		if !errors.Is(err, ErrExists) {
			return "", 0, err
		}
		// Someone else's asset holds the name: a broken earlier upload
		// (state "starter"), or a concurrent run.
		assets, err := gh.ListAssets(ctx, rel.ID)
		if err != nil {
			return "", 0, err
		}
		var there *Asset
		for _, a := range assets {
			if a.Name == l.entry.File {
				there = &a
			}
		}
		switch {
		case there == nil:
			continue // deleted meanwhile: try again
		case there.State != "uploaded":
			if err := gh.Delete(ctx, there.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return "", 0, err
			}
			continue
		}
		data, err := gh.Download(ctx, there.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return "", 0, err
		}
		switch {
		case err == nil && bytes.Equal(data, l.data):
			return unchanged, there.ID, nil
		case err == nil && replace == nil:
			return kept, 0, nil
		}
		if err := gh.Delete(ctx, there.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return "", 0, err
		}
	}
	return "", 0, fmt.Errorf("the asset name stays taken after 3 attempts (concurrent uploads?)")
}

// isManifest reports whether an asset carries manifest entries: the
// manifest itself, or a run's temporary copy not yet renamed.
func isManifest(name string) bool {
	return name == ManifestName || (strings.HasPrefix(name, ManifestName+".") && strings.HasSuffix(name, ".tmp"))
}

// snapshot is a release's assets and the manifest they add up to.
type snapshot struct {
	assets []Asset
	// merged is manifest.json merged with every temporary manifest.
	merged *manifest.Manifest
	// cur is manifest.json (nil if none), curData its bytes and
	// curManifest its entries; temps are the temporary manifests (any
	// state).
	cur         *Asset
	curData     []byte
	curManifest *manifest.Manifest
	temps       []Asset
	// all are the entries of every manifest read, before merging.
	all []manifest.Entry
}

// curManifestOr is manifest.json's content, or def when there is none.
func (s *snapshot) curManifestOr(def *manifest.Manifest) *manifest.Manifest {
	if s.curManifest != nil {
		return s.curManifest
	}
	return def
}

// readManifests merges manifest.json and any temporary manifests left by
// interrupted or concurrent runs.
func readManifests(ctx context.Context, gh GitHub, assets []Asset) (*snapshot, error) {
	snap := &snapshot{assets: assets, merged: &manifest.Manifest{Schema: manifest.Schema}}
	// manifest.json first, then temporaries in upload order.
	var parts []Asset
	for _, a := range assets {
		switch {
		case a.Name == ManifestName && a.State == "uploaded":
			a := a
			snap.cur = &a
			parts = append(parts, a)
		case strings.HasPrefix(a.Name, ManifestName+"."):
			snap.temps = append(snap.temps, a)
			if a.State == "uploaded" && isManifest(a.Name) {
				parts = append(parts, a)
			}
		}
	}
	sort.SliceStable(parts, func(i, j int) bool {
		if (parts[i].Name == ManifestName) != (parts[j].Name == ManifestName) {
			return parts[i].Name == ManifestName
		}
		return parts[i].ID < parts[j].ID
	})
	for _, a := range parts {
		if a.Size > maxIndexSize {
			return nil, fmt.Errorf("%s is %d MiB, more than a manifest can be: refused", a.Name, a.Size>>20)
		}
		data, err := gh.Download(ctx, a.ID)
		if errors.Is(err, ErrNotFound) {
			continue // replaced meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("download %s: %w", a.Name, err)
		}
		pm, err := manifest.Parse(a.Name, data)
		if err != nil {
			if a.Name == ManifestName {
				return nil, fmt.Errorf("the release's %w: fix or delete the asset", err)
			}
			continue // a temporary cut short
		}
		if a.Name == ManifestName {
			snap.curData, snap.curManifest = data, pm
		}
		snap.all = append(snap.all, pm.Entries...)
		snap.merged.Merge(pm)
	}
	return snap, nil
}

// writeManifest merges ours into the release's manifest: upload a
// temporary, delete the old manifest.json, rename the temporary. Losing a
// race at any step starts over from a fresh read; a last read verifies
// our entries are in place. snap, when not nil, is a current snapshot.
// It returns the snapshot it ended with.
func writeManifest(ctx context.Context, gh GitHub, rel *Release, ours *manifest.Manifest, snap *snapshot, o Options) (*snapshot, bool, error) {
	const attempts = 8
	wrote := false
	for attempt := 1; attempt <= attempts; attempt++ {
		if snap == nil {
			assets, err := gh.ListAssets(ctx, rel.ID)
			if err != nil {
				return nil, wrote, err
			}
			if snap, err = readManifests(ctx, gh, assets); err != nil {
				return nil, wrote, err
			}
		}
		merged := &manifest.Manifest{Schema: manifest.Schema}
		merged.Merge(snap.merged)
		merged.Merge(ours)
		// Entries whose file is gone from the release are dropped, and so
		// are entries bound to an asset that was replaced since: their
		// checksum is of bytes no longer there. The entry of the asset
		// that is there, if any run recorded it, takes the place.
		present := map[string]int64{}
		for _, a := range snap.assets {
			if a.State == "uploaded" {
				present[a.Name] = a.ID
			}
		}
		byID := map[int64]manifest.Entry{}
		for _, e := range append(append([]manifest.Entry{}, snap.all...), ours.Entries...) {
			if e.AssetID != 0 {
				byID[e.AssetID] = e
			}
		}
		kept := merged.Entries[:0]
		for _, e := range merged.Entries {
			id, ok := present[e.File]
			if !ok {
				continue
			}
			if e.AssetID != 0 && e.AssetID != id {
				alt, known := byID[id]
				if !known || alt.File != e.File {
					continue
				}
				e = alt
			}
			kept = append(kept, e)
		}
		merged.Entries = kept
		// Ours, less what another run replaced after we uploaded it.
		live := &manifest.Manifest{Schema: ours.Schema}
		for _, e := range ours.Entries {
			if e.AssetID == 0 || present[e.File] == e.AssetID {
				live.Entries = append(live.Entries, e)
			}
		}
		data := merged.Encode()
		// Done once manifest.json itself holds our entries. Temporary
		// manifests of other runs are theirs to fold in (or the next
		// writer's, after a crash); readers merge them meanwhile.
		if snap.curManifest != nil && (bytes.Equal(snap.curData, data) || contains(snap.curManifest, live)) {
			for _, t := range snap.temps {
				if strings.HasPrefix(t.Name, ManifestName+"."+o.RunID+"-") {
					if err := gh.Delete(ctx, t.ID); err != nil && !errors.Is(err, ErrNotFound) {
						return nil, wrote, err
					}
				}
			}
			return snap, wrote, nil
		}
		cur, temps := snap.cur, snap.temps
		snap = nil
		tmpName := fmt.Sprintf("%s.%s-%d.tmp", ManifestName, o.RunID, attempt)
		tmp, err := gh.Upload(ctx, rel, tmpName, "", "application/json", data)
		if err != nil {
			if errors.Is(err, ErrExists) {
				continue
			}
			return nil, wrote, fmt.Errorf("upload %s: %w", tmpName, err)
		}
		if cur != nil {
			if err := gh.Delete(ctx, cur.ID); errors.Is(err, ErrNotFound) {
				o.Logf("manifest.json changed under us; merging again")
				continue
			} else if err != nil {
				return nil, wrote, err
			}
		}
		if err := gh.Rename(ctx, tmp.ID, ManifestName); errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) {
			o.Logf("another run wrote manifest.json first; merging again")
			continue
		} else if err != nil {
			return nil, wrote, err
		}
		wrote = true
		for _, t := range temps {
			if err := gh.Delete(ctx, t.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, wrote, err
			}
		}
		// Loop once more to verify from a fresh read.
	}
	return nil, wrote, fmt.Errorf("manifest.json of release %s kept changing over %d attempts (concurrent runs?); run again", rel.Tag, attempts)
}

// contains reports whether every entry of ours is in m with its SHA-256.
func contains(m, ours *manifest.Manifest) bool {
	have := map[string]manifest.Entry{}
	for _, e := range m.Entries {
		have[e.File] = e
	}
	for _, e := range ours.Entries {
		h, ok := have[e.File]
		if !ok || h.SHA256 != e.SHA256 || (e.AssetID != 0 && h.AssetID != e.AssetID) {
			return false
		}
	}
	return true
}

// Sums renders SHA256SUMS for a manifest, as sha256sum prints it.
func Sums(m *manifest.Manifest) []byte {
	var b bytes.Buffer
	for _, e := range m.Entries {
		fmt.Fprintf(&b, "%s  %s\n", e.SHA256, e.File)
	}
	return b.Bytes()
}

// writeSums makes SHA256SUMS match the current manifest.json; snap, when
// not nil, is a fresh snapshot. SHA256SUMS is in step when it was uploaded
// after manifest.json (asset ids grow) with the size the manifest's sums
// have; otherwise it is made again from manifest.json as it is then, and
// the next listing checks that manifest.json did not change meanwhile.
func writeSums(ctx context.Context, gh GitHub, rel *Release, m *manifest.Manifest, snap *snapshot, o Options) (bool, error) {
	var manifestID int64 = -1
	if snap != nil && snap.cur != nil {
		manifestID = snap.cur.ID
	}
	wrote := false
	for attempt := 0; attempt < 6; attempt++ {
		assets := []Asset(nil)
		if snap != nil {
			assets, snap = snap.assets, nil
		} else {
			var err error
			if assets, err = gh.ListAssets(ctx, rel.ID); err != nil {
				return wrote, err
			}
		}
		var cur, sums *Asset
		for _, a := range assets {
			a := a
			switch a.Name {
			case ManifestName:
				cur = &a
			case SumsName:
				sums = &a
			}
		}
		if cur != nil && cur.ID != manifestID {
			data, err := gh.Download(ctx, cur.ID)
			if err != nil {
				continue
			}
			if pm, err := manifest.Parse(ManifestName, data); err == nil {
				m, manifestID = pm, cur.ID
			}
		}
		want := Sums(m)
		// In step when made from the manifest.json that is there now (its
		// label names it): a run's sums of an older manifest, uploaded
		// late, are not.
		label := sumsLabel(manifestID)
		if sums != nil && sums.State == "uploaded" && sums.Size == len(want) && sums.Label == label {
			return wrote, nil
		}
		if sums != nil {
			if err := gh.Delete(ctx, sums.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return wrote, err
			}
		}
		if _, err := gh.Upload(ctx, rel, SumsName, label, "text/plain", want); err != nil && !errors.Is(err, ErrExists) {
			return wrote, fmt.Errorf("upload %s: %w", SumsName, err)
		}
		wrote = true
	}
	return wrote, fmt.Errorf("%s kept changing (concurrent runs?); run again", SumsName)
}

// sumsLabel is SHA256SUMS's label: the manifest.json asset it was made
// from (assets never change, so its id names its content).
func sumsLabel(manifestID int64) string {
	if manifestID < 0 {
		return "no manifest"
	}
	return fmt.Sprintf("from manifest.json asset %d", manifestID)
}

// ReadManifest reads what a release holds (tag "" = the latest release):
// an empty manifest when there is no such release yet.
func ReadManifest(ctx context.Context, gh GitHub, tag string) (*manifest.Manifest, *Release, error) {
	rel, err := gh.GetRelease(ctx, tag)
	if errors.Is(err, ErrNotFound) {
		return &manifest.Manifest{Schema: manifest.Schema}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	assets, err := gh.ListAssets(ctx, rel.ID)
	if err != nil {
		return nil, nil, err
	}
	// Builds spread over several releases: the index lists them all.
	for _, a := range assets {
		if a.Name == IndexName {
			m, _, err := readIndex(ctx, gh, assets)
			return m, rel, err
		}
	}
	snap, err := readManifests(ctx, gh, assets)
	if err != nil {
		return nil, nil, err
	}
	return snap.merged, rel, nil
}
