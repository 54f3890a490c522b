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

// TestToDirFromReleaseFiles: a directory release --dir wrote (or a
// downloaded release) is itself a --dist: published into another
// directory it gives the same files, and into itself it changes nothing.
func TestToDirFromReleaseFiles(t *testing.T) {
	t.Parallel()
	dist := t.TempDir()
	data := []byte("\x7fELF a module")
	sum := sha256.Sum256(data)
	os.WriteFile(filepath.Join(dist, "ngx_http_x_module_1.26.3.so"), data, 0o644)
	cell := manifest.Manifest{Schema: manifest.Schema, Entries: []manifest.Entry{{Module: "ngx_http_x_module", Source: ".", Nginx: "1.26.3",
		Distro: "debian-12", Arch: "amd64", File: "ngx_http_x_module_1.26.3.so", SHA256: hex.EncodeToString(sum[:]), BuiltAt: "2026-11-29T10:00:00Z"}},
		Cells: []manifest.Cell{{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64"}}}
	os.WriteFile(filepath.Join(dist, manifest.CellFileName("1.26.3", "debian-12", "amd64")), cell.Encode(), 0o644)

	a := filepath.Join(t.TempDir(), "a")
	if _, err := ToDir(a, Options{Dist: dist}); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(t.TempDir(), "b")
	res, err := ToDir(b, Options{Dist: a})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Uploaded, " ") != "ngx_http_x_module_1.26.3_debian-12_amd64.so" {
		t.Errorf("from a release directory: uploaded %v", res.Uploaded)
	}
	for _, f := range []string{"ngx_http_x_module_1.26.3_debian-12_amd64.so", ManifestName, SumsName} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if len(x) == 0 || string(x) != string(y) {
			t.Errorf("%s differs between the two directories", f)
		}
	}
	res, err = ToDir(a, Options{Dist: a})
	if err != nil || len(res.Wrote) != 0 || len(res.Uploaded)+len(res.Replaced) != 0 || len(res.Unchanged) != 1 {
		t.Errorf("into itself: %+v, %v", res, err)
	}
	if _, err := ToDir(filepath.Join(t.TempDir(), "c"), Options{Dist: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no built files") {
		t.Errorf("an empty dist: %v", err)
	}
}
