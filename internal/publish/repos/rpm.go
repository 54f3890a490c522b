package repos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/signkey"
)

// stampName records, in an rpm repository's directory, the packages its
// repodata was made from: the same packages again leave it as it is.
const stampName = ".nginx-modbuild-packages"

// rpmArch is the rpm name of an architecture.
func rpmArch(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return arch
}

// RPMDir is where the rpm repository of a distro release and architecture
// is, relative to the release directory: rpm/rocky-9/x86_64.
func RPMDir(distroName, arch string) string {
	return filepath.ToSlash(filepath.Join("rpm", distroName, rpmArch(arch)))
}

// writeRPM makes an rpm repository per distro release and architecture
// of the manifest's .rpm files: the packages linked into rpm/<distro>/
// <arch>/, repodata/ made by createrepo_c (Fedora's own indexer: no Go
// library writes rpm metadata), and repodata/repomd.xml signed
// (repomd.xml.asc, for dnf's repo_gpgcheck=1). createrepo is the path of
// createrepo_c; it is needed only when there are .rpm files.
func writeRPM(ctx context.Context, dir string, m *manifest.Manifest, key *openpgp.Entity, createrepo string) ([]string, error) {
	groups := byRepo(m, "rpm", []distro.Family{distro.Dnf, distro.Yum}, RPMDir)
	if len(groups) == 0 {
		return nil, nil
	}
	if createrepo == "" {
		return nil, fmt.Errorf("the release has .rpm packages, and indexing them needs createrepo_c: apt-get install createrepo-c (or dnf install createrepo_c)")
	}
	return eachRepo(groups, "rpm", func(rd string, es []manifest.Entry) ([]string, error) {
		return rpmRepo(ctx, dir, rd, es, key, createrepo)
	})
}

// rpmRepo makes one rpm repository, unless its packages are the ones its
// repodata was made from and its signature still holds.
func rpmRepo(ctx context.Context, dir, rd string, entries []manifest.Entry, key *openpgp.Entity, createrepo string) ([]string, error) {
	repo := filepath.Join(dir, filepath.FromSlash(rd))
	sort.Slice(entries, func(i, j int) bool { return entries[i].File < entries[j].File })
	var stamp strings.Builder
	newest := time.Unix(0, 0)
	for _, e := range entries {
		fmt.Fprintf(&stamp, "%s  %s\n", e.SHA256, e.File)
		if t, err := time.Parse(time.RFC3339, e.BuiltAt); err == nil && t.After(newest) {
			newest = t
		}
	}
	repomd := filepath.Join(repo, "repodata", "repomd.xml")
	old, _ := os.ReadFile(filepath.Join(repo, stampName))
	md, _ := os.ReadFile(repomd)
	sig, _ := os.ReadFile(repomd + ".asc")
	if string(old) == stamp.String() && md != nil &&
		verifyDetached(md, sig, key) {
		return nil, nil
	}
	if err := placeRPMs(dir, repo, entries); err != nil {
		return nil, err
	}
	// The revision and every timestamp are the newest build's, so the
	// same packages make the same metadata.
	rev := fmt.Sprint(newest.Unix())
	cmd := exec.CommandContext(ctx, createrepo, "--quiet", "--no-database", "--revision", rev, "--set-timestamp-to-revision", repo)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	data, err := os.ReadFile(repomd)
	if err != nil {
		return nil, err
	}
	var asc bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&asc, key, bytes.NewReader(data), signkey.Config); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(repomd+".asc", asc.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(repo, stampName), []byte(stamp.String()), 0o644); err != nil {
		return nil, err
	}
	return []string{rd + "/repodata"}, nil
}

// placeRPMs makes repo hold exactly the entries' files: hard links to the
// release directory's (a copy where a link cannot be made).
func placeRPMs(dir, repo string, entries []manifest.Entry) error {
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, e := range entries {
		want[e.File] = true
		if _, err := readPackage(dir, e); err != nil {
			return err
		}
		if err := linkOrCopy(filepath.Join(dir, e.File), filepath.Join(repo, e.File)); err != nil {
			return err
		}
	}
	have, _ := filepath.Glob(filepath.Join(repo, "*.rpm"))
	for _, p := range have {
		if !want[filepath.Base(p)] {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// verifyDetached reports whether sig is key's armored signature of data.
func verifyDetached(data, sig []byte, key *openpgp.Entity) bool {
	if len(sig) == 0 {
		return false
	}
	_, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList{key}, bytes.NewReader(data), bytes.NewReader(sig), nil)
	return err == nil
}
