package release

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

func oneCell(t *testing.T, incremental bool) string {
	t.Helper()
	dist := t.TempDir()
	data := []byte("\x7fELF x")
	sum := sha256.Sum256(data)
	e := manifest.Entry{Module: "ngx_http_x_module", Source: ".", Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64",
		File: "ngx_http_x_module_1.26.3.so", SHA256: hex.EncodeToString(sum[:]), BuiltAt: "2026-11-30T00:00:00Z"}
	os.WriteFile(filepath.Join(dist, e.File), data, 0o644)
	m := manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{e},
		Cells: []manifest.Cell{{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Incremental: incremental}}}
	os.WriteFile(filepath.Join(dist, manifest.CellFileName("1.26.3", "debian-12", "amd64")), m.Encode(), 0o644)
	return dist
}

// TestIncrementalCellsAreNotReleased is issue 30's item 8 at the release:
// a cell built in a kept tree (build --incremental) is refused.
func TestIncrementalCellsAreNotReleased(t *testing.T) {
	t.Parallel()
	if _, _, err := Collect(oneCell(t, true)); err == nil || !strings.Contains(err.Error(), "built incrementally") {
		t.Errorf("an incremental cell: %v", err)
	}
	if _, _, err := Collect(oneCell(t, false)); err != nil {
		t.Errorf("a clean cell: %v", err)
	}
}

// TestDirManifestNamesOnly is issue 30's item 4 at the release
// directory: its manifest.json's entries become paths, and one that is
// a path ("../../x") is refused before anything is written.
func TestDirManifestNamesOnly(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "site")
	os.MkdirAll(dir, 0o755)
	bad := manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{{Module: "ngx_http_x_module", Source: ".", Nginx: "1.26.3",
		Distro: "../../x", Arch: "amd64", Kind: "deb", File: "x.deb", SHA256: strings.Repeat("0", 64)}}}
	os.WriteFile(filepath.Join(dir, ManifestName), bad.Encode(), 0o644)
	_, err := ToDir(dir, Options{Dist: oneCell(t, false)})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a directory manifest naming a path: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != ManifestName && e.Name() != ".nginx-modbuild.lock" {
			t.Errorf("written: %s", e.Name())
		}
	}
}
