package testenv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestInputFromTheVariable: $NGINX_MODBUILD_TEST_INPUTS comes first, laid
// out as ../shared is.
func TestInputFromTheVariable(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "vendor"), 0o755)
	os.WriteFile(filepath.Join(dir, "vendor", "only-here.tar.gz"), []byte("x"), 0o644)
	t.Setenv(InputsVar, dir)
	if got := Input(t, "vendor/only-here.tar.gz"); got != filepath.Join(dir, "vendor", "only-here.tar.gz") {
		t.Errorf("Input = %q", got)
	}
}

// fatalTB records a Fatalf and stops its goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	fatal string
}

func (f *fatalTB) Helper()             {}
func (f *fatalTB) Logf(string, ...any) {}
func (f *fatalTB) Fatalf(format string, a ...any) {
	f.fatal = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

// TestInputMissingFails: with none of the three ways, the test fails (CI
// or not) with one line naming the input and all three.
func TestInputMissingFails(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(InputsVar, t.TempDir())
	f := &fatalTB{TB: t}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); Input(f, "vendor/nowhere.tar.gz") }()
	wg.Wait()
	for _, want := range []string{"vendor/nowhere.tar.gz", InputsVar, "../shared", "scripts/inputs"} {
		if !strings.Contains(f.fatal, want) {
			t.Errorf("failure %q does not name %q", f.fatal, want)
		}
	}
	if strings.Contains(f.fatal, "\n") {
		t.Errorf("failure is not one line: %q", f.fatal)
	}
}

// codeHost serves, as codeload.github.com and raw.githubusercontent.com
// do, GitHub's archives of the pinned commits (made from the real inputs
// with GitHub's top directory <repo>-<commit>) and octokit/fixtures'
// files; tamper changes one byte of the named served file.
type codeHost struct {
	t        *testing.T
	archives map[string]string // repo -> the real input's tarball
	fixtures string            // the real github-fixtures directory
	tamper   string            // "test-nginx:README.md" or "labels.json"
	// whole names repositories whose archives are served with a file
	// outside the paths pinned (a LOCK line's PATHS), as GitHub's whole
	// archive has.
	whole map[string]bool
	mu    sync.Mutex
	asked []string
}

// requests is a copy of the paths asked so far.
func (h *codeHost) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.asked)
}

// setTamper changes the file served changed from now on.
func (h *codeHost) setTamper(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tamper = what
}

func (h *codeHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.asked = append(h.asked, r.URL.Path)
	tamper := h.tamper
	h.mu.Unlock()
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[2] == "tar.gz" && h.archives[parts[0]+"/"+parts[1]] != "":
		w.Write(h.archive(h.archives[parts[0]+"/"+parts[1]], parts[1], parts[3], tamper))
	case len(parts) >= 4 && parts[0] == "octokit" && parts[1] == "fixtures":
		name := parts[len(parts)-1]
		if name == "normalized-fixture.json" {
			name = parts[len(parts)-2] + ".json"
		}
		data, err := os.ReadFile(filepath.Join(h.fixtures, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if tamper == name {
			data[len(data)/2] ^= 1
		}
		w.Write(data)
	default:
		http.NotFound(w, r)
	}
}

// archive re-packs tarball's one top directory as GitHub names it.
func (h *codeHost) archive(tarball, repo, commit, tamper string) []byte {
	tmp := h.t.TempDir()
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", tmp).CombinedOutput(); err != nil {
		h.t.Errorf("unpack %s: %v\n%s", tarball, err, out)
		return nil
	}
	tops, _ := os.ReadDir(tmp)
	top := repo + "-" + commit
	os.Rename(filepath.Join(tmp, tops[0].Name()), filepath.Join(tmp, top))
	if h.whole[repo] {
		os.WriteFile(filepath.Join(tmp, top, "not-pinned.md"), []byte("outside the pinned paths\n"), 0o644)
	}
	if file, ok := strings.CutPrefix(tamper, repo+":"); ok {
		p := filepath.Join(tmp, top, file)
		data, _ := os.ReadFile(p)
		data[0] ^= 1
		os.WriteFile(p, data, 0o644)
	}
	out, err := exec.Command("tar", "-czf", "-", "-C", tmp, top).Output()
	if err != nil {
		h.t.Errorf("pack %s: %v", top, err)
	}
	return out
}

// runInputs runs scripts/inputs DIR with no ../shared and no
// $NGINX_MODBUILD_TEST_INPUTS, against the code host at url.
func runInputs(t *testing.T, dir, url string) (stdout, stderr string, err error) {
	cmd := exec.Command(filepath.Join(RepoRoot(), "scripts", "inputs"), dir)
	cmd.Env = append(os.Environ(), "NGINX_MODBUILD_SHARED="+t.TempDir(), InputsVar+"=",
		"NGINX_MODBUILD_CODELOAD="+url, "NGINX_MODBUILD_RAW="+url)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return strings.TrimSpace(o.String()), e.String(), err
}

// tarFiles is each regular file's SHA-256 and mode in tarball, by path
// below its top directory.
func tarFiles(t *testing.T, tarball string) map[string]string {
	tmp := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", tmp).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", tarball, err, out)
	}
	files := map[string]string{}
	filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		_, below, _ := strings.Cut(rel, string(filepath.Separator))
		data, _ := os.ReadFile(p)
		info, _ := d.Info()
		sum := sha256.Sum256(data)
		files[below] = hex.EncodeToString(sum[:]) + " " + info.Mode().String()
		return nil
	})
	return files
}

// TestInputsDownloadVerified: on a clone with neither ../shared nor the
// variable, scripts/inputs downloads the pinned inputs, keeps them only
// when their contents are the pinned ones (a one-byte change is refused,
// naming the input), records where each came from, and asks nothing again
// on a second run. The code host is served on loopback from the real
// inputs: these machines reach no code host, so GitHub's own URLs are not
// exercised here, only the paths the script asks them for.
func TestInputsDownloadVerified(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "git", "tar", "sha256sum"} {
		Tool(t, tool, tool)
	}
	host := &codeHost{t: t, fixtures: Input(t, "github-fixtures"), archives: map[string]string{
		"openresty/test-nginx": Input(t, "vendor/test-nginx-cf245a0.tar.gz"),
		"nginx/njs":            Input(t, "vendor/njs-0.8.9.tar.gz"),
	}}
	srv := httptest.NewServer(host)
	defer srv.Close()

	dir := filepath.Join(t.TempDir(), "inputs")
	out, stderr, err := runInputs(t, dir, srv.URL)
	if err != nil || out != dir {
		t.Fatalf("scripts/inputs: %v, printed %q, want %q\n%s", err, out, dir, stderr)
	}
	for name, real := range host.archives {
		rel := map[string]string{"openresty/test-nginx": "vendor/test-nginx-cf245a0.tar.gz", "nginx/njs": "vendor/njs-0.8.9.tar.gz"}[name]
		SameTree(t, rel, tarFiles(t, real), tarFiles(t, filepath.Join(dir, rel)))
	}
	fixtures, _ := os.ReadDir(host.fixtures)
	for _, f := range fixtures {
		want, _ := os.ReadFile(filepath.Join(host.fixtures, f.Name()))
		if got, err := os.ReadFile(filepath.Join(dir, "github-fixtures", f.Name())); err != nil || !bytes.Equal(got, want) {
			t.Errorf("github-fixtures/%s: not the real file (%v)", f.Name(), err)
		}
	}
	sources, _ := os.ReadFile(filepath.Join(dir, "SOURCES"))
	if n := strings.Count(string(sources), "\n"); n != 2+len(fixtures) {
		t.Errorf("SOURCES has %d lines, want %d:\n%s", n, 2+len(fixtures), sources)
	}
	for _, want := range []string{"/openresty/test-nginx/tar.gz/cf245a0e58f2", "/nginx/njs/tar.gz/", "/octokit/fixtures/"} {
		if !strings.Contains(strings.Join(host.requests(), " "), want) {
			t.Errorf("no request for %s in %v", want, host.requests())
		}
	}
	t.Setenv(InputsVar, dir)
	if got := Input(t, "vendor/njs-0.8.9.tar.gz"); got == "" || !strings.Contains(downloaded(dir, "vendor/njs-0.8.9.tar.gz"), "tree-sha256:") {
		t.Errorf("Input does not say the download's source: %q", downloaded(dir, "vendor/njs-0.8.9.tar.gz"))
	}

	asked := len(host.requests())
	if out, stderr, err := runInputs(t, dir, srv.URL); err != nil || out != dir || len(host.requests()) != asked {
		t.Errorf("second run: %v, %q, %d more requests\n%s", err, out, len(host.requests())-asked, stderr)
	}

	for _, tamper := range []struct{ what, input string }{
		{"test-nginx:README.md", "vendor/test-nginx-cf245a0.tar.gz"},
		{"labels.json", "github-fixtures/labels.json"},
	} {
		host.setTamper(tamper.what)
		bad := filepath.Join(t.TempDir(), "inputs")
		_, stderr, err := runInputs(t, bad, srv.URL)
		if err == nil || !strings.Contains(stderr, "test input "+tamper.input) || !strings.Contains(stderr, "refused") {
			t.Errorf("%s changed by one byte: %v\n%s", tamper.what, err, stderr)
		}
		if _, err := os.Stat(filepath.Join(bad, tamper.input)); err == nil {
			t.Errorf("%s changed by one byte: kept as %s", tamper.what, tamper.input)
		}
	}
}

// TestUpstreamCorpusVerified: every pinned upstream module unpacks to its
// pinned tree, and scripts/upstream downloads the same commits from a
// code host (loopback, serving the offline copies as GitHub names them),
// keeps them when they match and refuses a one-byte change.
func TestUpstreamCorpusVerified(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "git", "tar"} {
		Tool(t, tool, tool)
	}
	t.Setenv(InputsVar, "")
	pins := Pins(t)
	host := &codeHost{t: t, archives: map[string]string{}, whole: map[string]bool{}}
	for name, p := range pins {
		Upstream(t, name)
		host.archives[p.Repo] = filepath.Join(RepoRoot(), "testdata", "upstream", name+".tar.gz")
		host.whole[filepath.Base(p.Repo)] = len(p.Paths) > 0
	}
	srv := httptest.NewServer(host)
	defer srv.Close()
	run := func(dir string) (string, error) {
		cmd := exec.Command(filepath.Join(RepoRoot(), "scripts", "upstream"), dir)
		cmd.Env = append(os.Environ(), "NGINX_MODBUILD_CODELOAD="+srv.URL)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dir := t.TempDir()
	if out, err := run(dir); err != nil {
		t.Fatalf("scripts/upstream: %v\n%s", err, out)
	}
	t.Setenv(InputsVar, dir)
	for name, p := range pins {
		Upstream(t, name)
		if got, _ := upstreamArchive(t, name); !strings.HasPrefix(got, dir) {
			t.Errorf("%s: not read from the download in %s", name, dir)
		}
		if n := slices.Index(host.requests(), "/"+p.Repo+"/tar.gz/"+p.Commit); n < 0 {
			t.Errorf("%s: %s@%s never asked; asked %v", name, p.Repo, p.Commit, host.requests())
		}
	}
	host.setTamper("nginx-module-vts:config")
	out, err := run(t.TempDir())
	if err == nil || !strings.Contains(out, "nginx-module-vts") || !strings.Contains(out, "refused") {
		t.Errorf("a changed byte in vts's config: %v\n%s", err, out)
	}
}
