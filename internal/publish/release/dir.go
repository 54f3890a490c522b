package release

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// NotesName is the release notes' file in a release directory.
const NotesName = "NOTES.md"

// lockName serializes publishes into one directory.
const lockName = ".nginx-modbuild.lock"

// ToDir makes dir hold what the GitHub release would: every built file of
// o.Dist under its asset name, the merged manifest.json, SHA256SUMS and
// the notes (NOTES.md), ready for a static host (Pages, S3, an nginx).
// It is idempotent (a file whose bytes are there already is not
// written) and every file is replaced atomically: a reader sees the old
// or the new file, never a part. The built files go first and the
// manifest last, so the manifest never names a file that is not there.
// Concurrent publishes into dir wait for each other.
func ToDir(dir string, o Options) (*Result, error) {
	if o.Spread != "" {
		return nil, errors.New("--spread works around GitHub's 1,000 assets per release; a directory has no such limit: leave --spread out")
	}
	locals, cells, err := o.collect()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	merged, err := readDirManifest(dir)
	if err != nil {
		return nil, err
	}
	ours := &manifest.Manifest{Schema: manifest.Schema, Cells: cells}
	for _, l := range locals {
		ours.Entries = append(ours.Entries, l.entry)
	}
	merged.Merge(ours)
	tag := o.Tag
	if tag == "" {
		tag = filepath.Base(dir)
	}
	res := &Result{Release: &Release{Tag: tag, HTMLURL: dir}, Manifest: merged, Cells: cells}
	if err := putFiles(dir, locals, merged, res); err != nil {
		return res, err
	}
	notes, err := readOptional(filepath.Join(dir, NotesName))
	if err != nil {
		return res, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{SumsName, Sums(merged)},
		{ManifestName, merged.Encode()},
		{NotesName, []byte(Notes(string(notes), merged, "."))},
	} {
		wrote, err := atomicfile.WriteChanged(filepath.Join(dir, f.name), f.data, 0o644)
		if err != nil {
			return res, err
		}
		if wrote {
			res.Wrote = append(res.Wrote, f.name)
		}
	}
	if o.Index != nil {
		wrote, err := o.Index(merged)
		res.Wrote = append(res.Wrote, wrote...)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// putFiles writes the built files whose entry in merged is ours (a newer
// build already there is kept), sorting each into the result.
func putFiles(dir string, locals []local, merged *manifest.Manifest, res *Result) error {
	current := map[string]string{}
	for _, e := range merged.Entries {
		current[e.File] = e.SHA256
	}
	for _, l := range locals {
		name := l.entry.File
		if current[name] != l.entry.SHA256 {
			res.Kept = append(res.Kept, name)
			continue
		}
		path := filepath.Join(dir, name)
		old, err := readOptional(path)
		switch {
		case err != nil:
			return err
		case old != nil && bytes.Equal(old, l.data):
			res.Unchanged = append(res.Unchanged, name)
			continue
		case old != nil:
			res.Replaced = append(res.Replaced, name)
		default:
			res.Uploaded = append(res.Uploaded, name)
		}
		if err := atomicfile.Write(path, l.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readDirManifest is the manifest.json in dir, or an empty one.
func readDirManifest(dir string) (*manifest.Manifest, error) {
	p := filepath.Join(dir, ManifestName)
	m, err := manifest.Read(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &manifest.Manifest{Schema: manifest.Schema}, nil
	}
	if err != nil {
		return nil, err
	}
	// Its entries become paths (the files, the repositories' suites and
	// directories): names only, never "../".
	for i, e := range m.Entries {
		if err := e.Check(); err != nil {
			return nil, fmt.Errorf("%s entry %d (%s): %w: refused (an entry names a file in the directory, never a path)", p, i+1, e.File, err)
		}
	}
	return m, nil
}

// readOptional reads a regular file; nil when there is none.
func readOptional(path string) ([]byte, error) {
	data, err := userfile.Read(path, 256<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// lockDir holds dir's publish lock until the returned function is called.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
