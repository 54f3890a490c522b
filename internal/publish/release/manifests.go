package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

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
		merged, live := mergedWith(snap, ours)
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

// mergedWith is the manifest to write: what the release holds merged
// with ours, less the entries whose bytes are no longer there; and live,
// ours less what another run replaced after we uploaded it.
func mergedWith(snap *snapshot, ours *manifest.Manifest) (merged, live *manifest.Manifest) {
	merged = &manifest.Manifest{Schema: manifest.Schema}
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
	live = &manifest.Manifest{Schema: ours.Schema}
	for _, e := range ours.Entries {
		if e.AssetID == 0 || present[e.File] == e.AssetID {
			live.Entries = append(live.Entries, e)
		}
	}
	return merged, live
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
