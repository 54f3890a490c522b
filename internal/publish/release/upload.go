package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// listRoomFor lists the release's assets and refuses, before anything is
// uploaded, a sync that would take it past GitHub's asset limit.
func listRoomFor(ctx context.Context, gh GitHub, rel *Release, locals []local) ([]Asset, error) {
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
	return assets, nil
}

// uploadJob is one local file to upload, replacing an asset or not.
type uploadJob struct {
	l       local
	replace *Asset
}

// uploadsOf is what must be uploaded: the files the release lacks or
// holds with other bytes. The files already there with the same bytes
// are unchanged in res; ids maps every file to the asset holding its
// bytes, so far.
func uploadsOf(locals []local, assets []Asset, remote *manifest.Manifest, res *Result) ([]uploadJob, map[string]int64) {
	known := map[string]manifest.Entry{}
	for _, e := range remote.Entries {
		known[e.File] = e
	}
	byName := map[string]Asset{}
	for _, a := range assets {
		byName[a.Name] = a
	}
	var jobs []uploadJob
	ids := map[string]int64{}
	for _, l := range locals {
		a, exists := byName[l.entry.File]
		switch {
		case !exists:
			jobs = append(jobs, uploadJob{l: l})
		case a.State == "uploaded" && a.Size == len(l.data) && known[l.entry.File].SHA256 == l.entry.SHA256 &&
			(known[l.entry.File].AssetID == 0 || known[l.entry.File].AssetID == a.ID):
			res.Unchanged = append(res.Unchanged, l.entry.File)
			ids[l.entry.File] = a.ID
		default:
			jobs = append(jobs, uploadJob{l: l, replace: &a})
		}
	}
	return jobs, ids
}

// upload runs the jobs, o.Parallel at a time, recording each outcome in
// res and each asset in ids; it returns the files another run's
// identical upload kept (dropped from this run's manifest entries).
func upload(ctx context.Context, gh GitHub, rel *Release, jobs []uploadJob, ids map[string]int64, res *Result, o Options) (map[string]bool, error) {
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
	err := g.Wait()
	sort.Strings(res.Uploaded)
	sort.Strings(res.Replaced)
	sort.Strings(res.Unchanged)
	sort.Strings(res.Kept)
	return dropped, err
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
