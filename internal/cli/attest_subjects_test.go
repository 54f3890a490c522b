package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
)

// outputOf reads one output from a GITHUB_OUTPUT file (name<<DELIM form
// or name=value).
func outputOf(t *testing.T, file, name string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var val string
	for i := 0; i < len(lines); i++ {
		if k, delim, ok := strings.Cut(lines[i], "<<"); ok && k == name {
			var body []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				body = append(body, lines[i])
			}
			val = strings.Join(body, "\n")
		} else if k, v, ok := strings.Cut(lines[i], "="); ok && k == name {
			val = v
		}
	}
	return val
}

// TestAttestSubjectsAreThisRunsFiles is issue 30's second item: someone
// who can write the release replaces a .so and rewrites manifest.json and
// SHA256SUMS to match; the next run builds one new cell. What release
// hands the attest job (its subjects output) is that new cell's file
// only: the replaced bytes are in the release's SHA256SUMS, which the
// attest job used to sign, and are never attested.
func TestAttestSubjectsAreThisRunsFiles(t *testing.T) {
	h := newHarness(t)
	h.releaseRepo()
	out := filepath.Join(t.TempDir(), "output")
	h.env["GITHUB_OUTPUT"] = out
	h.env["GITHUB_ACTIONS"] = "true"

	first := filepath.Join(t.TempDir(), "dist")
	writeCell(t, filepath.Join(first, "cell-1"), ".", "ngx_http_hello_world_module", "1.30.4", []byte("\x7fELF genuine 1.30.4"))
	os.WriteFile(out, nil, 0o644)
	if r := h.run("release", "--tag", "modules", "--create", "--dist", first); r.code != 0 {
		t.Fatalf("first release: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	genuine := manifest.AssetName("ngx_http_hello_world_module", "1.30.4", "debian-12", "amd64")
	if s := outputOf(t, out, "subjects"); !strings.Contains(s, "  "+genuine) {
		t.Fatalf("first run's subjects %q lack %s", s, genuine)
	}

	// The attack: other bytes, and a manifest and checksums that agree.
	evil := []byte("\x7fELF attacker's 1.30.4")
	sum := sha256.Sum256(evil)
	evilSum := hex.EncodeToString(sum[:])
	h.gh.ReplaceAsset("acme/mod", "modules", genuine, evil)
	var m *manifest.Manifest
	for _, a := range h.gh.Releases("acme/mod")[0].Assets {
		if a.Name == "manifest.json" {
			var err error
			if m, err = manifest.Parse("manifest.json", a.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range m.Entries {
		if m.Entries[i].File == genuine {
			m.Entries[i].SHA256 = evilSum
		}
	}
	h.gh.ReplaceAsset("acme/mod", "modules", "manifest.json", m.Encode())
	h.gh.ReplaceAsset("acme/mod", "modules", "SHA256SUMS", []byte(fmt.Sprintf("%s  %s\n", evilSum, genuine)))

	// The next scheduled run built one new cell.
	second := filepath.Join(t.TempDir(), "dist")
	writeCell(t, filepath.Join(second, "cell-2"), ".", "ngx_http_hello_world_module", "1.31.4", []byte("\x7fELF genuine 1.31.4"))
	os.WriteFile(out, nil, 0o644)
	if r := h.run("release", "--tag", "modules", "--dist", second); r.code != 0 {
		t.Fatalf("second release: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	subjects := outputOf(t, out, "subjects")
	newFile := manifest.AssetName("ngx_http_hello_world_module", "1.31.4", "debian-12", "amd64")
	newSum := sha256.Sum256([]byte("\x7fELF genuine 1.31.4"))
	if want := hex.EncodeToString(newSum[:]) + "  " + newFile; strings.TrimSpace(subjects) != want {
		t.Errorf("the second run hands the attest job %q, want only its own file %q", subjects, want)
	}
	if strings.Contains(subjects, evilSum) || strings.Contains(subjects, genuine) {
		t.Errorf("the replaced file would be attested: %q", subjects)
	}
}
