package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
)

// IndexName is the index release's merged manifest when builds are
// spread over several releases.
const IndexName = "index.json"

// SpreadTag is the release a build of nginx v goes to under scheme:
// TAG-nginx-1.26 ("line"), TAG-nginx-1.26.3 ("version").
func SpreadTag(index, scheme, nginx string) (string, error) {
	v, err := nginxver.Parse(nginx)
	if err != nil {
		return "", err
	}
	switch scheme {
	case "line":
		s := v.Segments()
		return fmt.Sprintf("%s-nginx-%d.%d", index, s[0], s[1]), nil
	case "version":
		return index + "-nginx-" + nginx, nil
	}
	return "", fmt.Errorf("spread %q: want line or version", scheme)
}

func keep(locals []local, cells []manifest.Cell, only func(string) bool) ([]local, []manifest.Cell) {
	var ls []local
	for _, l := range locals {
		if only(l.entry.Nginx) {
			ls = append(ls, l)
		}
	}
	var cs []manifest.Cell
	for _, c := range cells {
		if only(c.Nginx) {
			cs = append(cs, c)
		}
	}
	return ls, cs
}

// syncSpread releases the builds of dist into one release per line or
// version and keeps the index release's index.json, the merged manifest
// of them all, current. Nothing new costs a handful of requests: the
// index says what every release holds.
func syncSpread(ctx context.Context, gh GitHub, o Options) (*Result, error) {
	if o.Tag == "" {
		return nil, errors.New("spreading needs the index release's tag (--tag)")
	}
	locals, cells, err := o.collect()
	if err != nil {
		return nil, err
	}
	idxRel, err := findRelease(ctx, gh, o)
	if err != nil {
		return nil, err
	}
	assets, err := gh.ListAssets(ctx, idxRel.ID)
	if err != nil {
		return nil, fmt.Errorf("list assets of release %s: %w", idxRel.Tag, err)
	}
	index, idxAsset, err := readIndex(ctx, gh, assets)
	if err != nil {
		return nil, err
	}
	res := &Result{Release: idxRel, Cells: cells}
	tags, err := spreadTodo(o, index, locals, cells, res)
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		sort.Strings(res.Unchanged)
		res.Manifest = index
		return res, nil
	}
	for _, tag := range tags {
		sub := o
		sub.Tag, sub.Create, sub.Spread = tag, true, ""
		mine, myCells := keep(locals, cells, func(nginx string) bool { t, _ := SpreadTag(o.Tag, o.Spread, nginx); return t == tag })
		r, err := syncOne(ctx, gh, sub, mine, myCells)
		if r != nil {
			res.Uploaded = append(res.Uploaded, r.Uploaded...)
			res.Replaced = append(res.Replaced, r.Replaced...)
			res.Unchanged = append(res.Unchanged, r.Unchanged...)
			res.Kept = append(res.Kept, r.Kept...)
			for _, w := range r.Wrote {
				res.Wrote = append(res.Wrote, tag+": "+w)
			}
		}
		if err != nil {
			return res, fmt.Errorf("release %s: %w", tag, err)
		}
		foldInto(index, r.Manifest, tag, func(nginx string) string { t, _ := SpreadTag(o.Tag, o.Spread, nginx); return t })
	}
	index.Sort()
	sort.Strings(res.Unchanged)
	if err := writeIndex(ctx, gh, idxRel, index, idxAsset, o); err != nil {
		return res, err
	}
	res.Wrote = append(res.Wrote, IndexName)
	if err := editNotes(ctx, gh, idxRel, indexNotes(idxRel.Body, index, strings.Replace(idxRel.HTMLURL, "/releases/tag/", "/releases/download/", 1)), res); err != nil {
		return res, err
	}
	res.Manifest = index
	return res, nil
}

func cellKey(c manifest.Cell) string {
	return fmt.Sprintf("%s %s %s %d", c.Nginx, c.Distro, c.Arch, len(c.Failures))
}

// readIndex reads index.json from the index release's assets (an empty
// index when there is none yet).
func readIndex(ctx context.Context, gh GitHub, assets []Asset) (*manifest.Manifest, *Asset, error) {
	for _, a := range assets {
		if a.Name != IndexName {
			continue
		}
		if a.Size > maxIndexSize {
			return nil, nil, fmt.Errorf("%s is %d MiB, more than an index can be: refused", IndexName, a.Size>>20)
		}
		data, err := gh.Download(ctx, a.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("download %s: %w", IndexName, err)
		}
		m, err := manifest.Parse(IndexName, data)
		if err != nil {
			return nil, nil, err
		}
		return m, &a, nil
	}
	return &manifest.Manifest{Schema: manifest.Schema}, nil, nil
}

// writeIndex replaces index.json: the new one is uploaded under a
// temporary name first and renamed once the old one is gone.
func writeIndex(ctx context.Context, gh GitHub, rel *Release, index *manifest.Manifest, old *Asset, o Options) error {
	data := index.Encode()
	if old != nil {
		if cur, err := gh.Download(ctx, old.ID); err == nil && string(cur) == string(data) {
			return nil
		}
	}
	sum := sha256.Sum256(data)
	tmp := "index-" + o.RunID + "-" + hex.EncodeToString(sum[:4]) + ".json.tmp"
	a, err := gh.Upload(ctx, rel, tmp, "", "application/json", data)
	if err != nil {
		return fmt.Errorf("upload %s: %w", IndexName, err)
	}
	if old != nil {
		if err := gh.Delete(ctx, old.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("replace %s: %w", IndexName, err)
		}
	}
	if err := gh.Rename(ctx, a.ID, IndexName); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, IndexName, err)
	}
	return nil
}

// indexNotes lists the spread releases in the index release's notes.
func indexNotes(body string, index *manifest.Manifest, download string) string {
	count := map[string]int{}
	for _, e := range index.Entries {
		count[e.Release]++
	}
	var tags []string
	for t := range count {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	var b strings.Builder
	fmt.Fprintf(&b, "### Builds\n\nThe builds are spread over %d releases (GitHub allows %d assets in one); [`%s`](%s/%s) lists every file and the release holding it.\n\n| release | files |\n|---|---|\n",
		len(tags), MaxAssets, IndexName, strings.TrimSuffix(download, "/"), IndexName)
	for _, t := range tags {
		fmt.Fprintf(&b, "| %s | %d |\n", t, count[t])
	}
	table := notesBegin + "\n" + b.String() + notesEnd
	if i := strings.Index(body, notesBegin); i >= 0 {
		if j := strings.Index(body[i:], notesEnd); j >= 0 {
			return body[:i] + table + body[i+j+len(notesEnd):]
		}
	}
	if body == "" {
		return table
	}
	return body + "\n\n" + table
}

// spreadTodo is the releases with something new, sorted: a file not in
// the index, or with other bytes, or a cell whose record changed. The
// files of the other releases are unchanged in res; those of a release
// synced are counted by that sync.
func spreadTodo(o Options, index *manifest.Manifest, locals []local, cells []manifest.Cell, res *Result) ([]string, error) {
	known := map[string]manifest.Entry{}
	for _, e := range index.Entries {
		known[e.File] = e
	}
	todo := map[string]bool{}
	same := map[string][]string{}
	for _, l := range locals {
		tag, err := SpreadTag(o.Tag, o.Spread, l.entry.Nginx)
		if err != nil {
			return nil, err
		}
		if k, ok := known[l.entry.File]; ok && k.SHA256 == l.entry.SHA256 && k.AssetID != 0 && k.Release == tag {
			same[tag] = append(same[tag], l.entry.File)
			continue
		}
		todo[tag] = true
	}
	cellKnown := map[string]bool{}
	for _, c := range index.Cells {
		cellKnown[cellKey(c)] = true
	}
	for _, c := range cells {
		if !cellKnown[cellKey(c)] {
			tag, _ := SpreadTag(o.Tag, o.Spread, c.Nginx)
			todo[tag] = true
		}
	}
	tags := make([]string, 0, len(todo))
	for t := range todo {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	for t, files := range same {
		if !todo[t] {
			res.Unchanged = append(res.Unchanged, files...)
		}
	}
	return tags, nil
}

// foldInto makes the index hold release tag's manifest m as it now is:
// its entries and cells replace the ones the index had for tag (tagOf
// names the release of an nginx version).
func foldInto(index, m *manifest.Manifest, tag string, tagOf func(nginx string) string) {
	kept := index.Entries[:0]
	for _, e := range index.Entries {
		if e.Release != tag {
			kept = append(kept, e)
		}
	}
	index.Entries = kept
	for _, e := range m.Entries {
		e.Release = tag
		index.Entries = append(index.Entries, e)
	}
	cs := index.Cells[:0]
	for _, c := range index.Cells {
		if tagOf(c.Nginx) != tag {
			cs = append(cs, c)
		}
	}
	index.Cells = append(cs, m.Cells...)
}
