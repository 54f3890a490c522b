// Package repos makes the package repositories of a release directory
// (release --dir), signed, with the public key beside them:
//   - apt over its .deb files: one suite per distro release (debian-12);
//     in it, component main holds the builds for that release's own nginx
//     (the version its nginx package ships), and nginx-X.Y the builds for
//     upstream nginx X.Y.z (nginx.org's packages, say);
//   - rpm over its .rpm files: rpm/<distro>/<arch>/ with repodata/;
//   - apk over its .apk files: apk/<distro>/<arch>/ with APKINDEX.tar.gz
//     (an RSA key signs it: apk knows no other).
package repos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/aptrepo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/signkey"
)

// Component is where a build of nginx v for d goes in d's suite.
func Component(d distro.Distro, v string) string {
	if d.Packaged == v {
		return "main"
	}
	pv, err := nginxver.Parse(v)
	if err != nil {
		return "nginx-" + v
	}
	s := pv.Segments()
	return fmt.Sprintf("nginx-%d.%d", s[0], s[1])
}

// AptPlace is where entry e goes in the apt repository: its distro (the
// suite is e.Distro, also published as d.Codename when set) and its
// component; ok is false for anything but a .deb of an apt distro.
func AptPlace(e manifest.Entry) (d distro.Distro, component string, ok bool) {
	if e.Kind != "deb" {
		return d, "", false
	}
	d, known := distro.Lookup(e.Distro)
	if known && d.Family != distro.Apt {
		return d, "", false
	}
	return d, Component(d, e.Nginx), true
}

// Options are the tools the repositories are made with.
type Options struct {
	// CreateRepo is createrepo_c's path, needed for .rpm packages.
	CreateRepo string
}

// Write makes the repositories of the release directory dir, whose
// manifest is m, signed with key: apt (dists/) and rpm (rpm/). It writes
// only what changed: the same packages leave every file as it was
// (signatures included). It returns the paths written, relative to dir.
//
// Every entry must name a file beside the manifest (Entry.Check: names,
// never paths) and every package must have the bytes its entry says: a
// package replaced in dir is refused, never indexed and signed.
func Write(ctx context.Context, dir string, m *manifest.Manifest, key *openpgp.Entity, o Options) ([]string, error) {
	for i, e := range m.Entries {
		if err := e.Check(); err != nil {
			return nil, fmt.Errorf("%s entry %d (%s): %w: refused (an entry names a file in the directory, never a path)", filepath.Join(dir, "manifest.json"), i+1, e.File, err)
		}
	}
	wrote, err := writeApt(dir, m, key)
	if err != nil {
		return wrote, err
	}
	rpm, err := writeRPM(ctx, dir, m, key, o.CreateRepo)
	wrote = append(wrote, rpm...)
	if err != nil {
		return wrote, err
	}
	apk, err := writeAPK(dir, m, key)
	wrote = append(wrote, apk...)
	if err != nil || !hasPackages(m) {
		return wrote, err
	}
	keys, err := writeKey(dir, key)
	return append(wrote, keys...), err
}

// readPackage reads an entry's package and checks it has the entry's
// SHA-256.
func readPackage(dir string, e manifest.Entry) ([]byte, error) {
	data, err := userfile.Read(filepath.Join(dir, e.File), 256<<20)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != e.SHA256 {
		return nil, fmt.Errorf("%s has SHA-256 %x, but the manifest says %s: the package was replaced since it was published; refused (nothing indexed or signed): restore it, or publish it again from its build", filepath.Join(dir, e.File), sum, e.SHA256)
	}
	return data, nil
}

// hasPackages reports whether the manifest lists any package.
func hasPackages(m *manifest.Manifest) bool {
	for _, e := range m.Entries {
		if e.Kind == "deb" || e.Kind == "rpm" || e.Kind == "apk" {
			return true
		}
	}
	return false
}

// writeApt makes the apt repository of the manifest's .deb files.
func writeApt(dir string, m *manifest.Manifest, key *openpgp.Entity) ([]string, error) {
	var debs []aptrepo.Deb
	var newest time.Time
	codenames := map[string]string{}
	for _, e := range m.Entries {
		d, component, ok := AptPlace(e)
		if !ok {
			continue
		}
		data, err := readPackage(dir, e)
		if err != nil {
			return nil, err
		}
		if d.Codename != "" {
			codenames[e.Distro] = d.Codename
		}
		debs = append(debs, aptrepo.Deb{Filename: e.File, Data: data, Suite: e.Distro, Component: component, Arch: e.Arch})
		if t, err := time.Parse(time.RFC3339, e.BuiltAt); err == nil && t.After(newest) {
			newest = t
		}
	}
	if len(debs) == 0 {
		return nil, nil
	}
	files, err := aptrepo.Indexes(debs, aptrepo.Options{Origin: "nginx-modbuild", Label: "nginx-modbuild", Date: newest, Codenames: codenames})
	if err != nil {
		return nil, err
	}
	var wrote []string
	put := func(f aptrepo.File) error {
		changed, err := atomicfile.WriteChanged(filepath.Join(dir, filepath.FromSlash(f.Path)), f.Data, 0o644)
		if changed {
			wrote = append(wrote, f.Path)
		}
		return err
	}
	for _, f := range files {
		if err := put(f); err != nil {
			return wrote, err
		}
		if filepath.Base(f.Path) != "Release" {
			continue
		}
		suite := filepath.Dir(filepath.FromSlash(f.Path))
		old, _ := os.ReadFile(filepath.Join(dir, suite, "InRelease"))
		if _, err := os.Stat(filepath.Join(dir, suite, "Release.gpg")); err == nil && aptrepo.Verify(old, f.Data, key) {
			continue // still signed by this key
		}
		in, det, err := aptrepo.Sign(f.Data, key)
		if err != nil {
			return wrote, err
		}
		for _, s := range []aptrepo.File{{Path: filepath.ToSlash(filepath.Join(suite, "InRelease")), Data: in}, {Path: filepath.ToSlash(filepath.Join(suite, "Release.gpg")), Data: det}} {
			if err := put(s); err != nil {
				return wrote, err
			}
		}
	}
	return wrote, nil
}

// writeKey publishes key's public part beside the repositories.
func writeKey(dir string, key *openpgp.Entity) ([]string, error) {
	pub, armored, err := signkey.Public(key)
	if err != nil {
		return nil, err
	}
	var wrote []string
	for _, f := range []aptrepo.File{{Path: signkey.Name + ".gpg", Data: pub}, {Path: signkey.Name + ".asc", Data: armored}} {
		changed, err := atomicfile.WriteChanged(filepath.Join(dir, f.Path), f.Data, 0o644)
		if changed {
			wrote = append(wrote, f.Path)
		}
		if err != nil {
			return wrote, err
		}
	}
	return wrote, nil
}

// byRepo groups the manifest's packages of one kind (rpm, apk) for one
// family by their repository directory, dir(distro, arch); a distro of
// another known family is left out.
func byRepo(m *manifest.Manifest, kind string, families []distro.Family, dir func(distro, arch string) string) map[string][]manifest.Entry {
	groups := map[string][]manifest.Entry{}
	for _, e := range m.Entries {
		if e.Kind != kind {
			continue
		}
		if d, ok := distro.Lookup(e.Distro); ok && !slices.Contains(families, d.Family) {
			continue
		}
		groups[dir(e.Distro, e.Arch)] = append(groups[dir(e.Distro, e.Arch)], e)
	}
	return groups
}

// eachRepo makes every group's repository, in order of their paths.
func eachRepo(groups map[string][]manifest.Entry, what string, build func(rd string, entries []manifest.Entry) ([]string, error)) ([]string, error) {
	var wrote []string
	for _, rd := range slices.Sorted(maps.Keys(groups)) {
		w, err := build(rd, groups[rd])
		wrote = append(wrote, w...)
		if err != nil {
			return wrote, fmt.Errorf("%s repository %s: %w", what, rd, err)
		}
	}
	return wrote, nil
}
