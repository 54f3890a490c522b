package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
)

const repo = "acme/mod"

// cell is one build cell's output to put in a dist directory.
type cell struct {
	nginx, distro, arch string
	modules             []string
	// gen changes the bytes of every file (a rebuild).
	gen int
}

// writeDist writes cells' .so files and cell manifests under dir, one
// subdirectory per cell as downloaded artifacts are.
func writeDist(t testing.TB, dir string, cells ...cell) {
	t.Helper()
	for _, c := range cells {
		sub := filepath.Join(dir, c.nginx+"-"+c.distro+"-"+c.arch)
		os.MkdirAll(sub, 0o755)
		m := manifest.Manifest{Schema: manifest.Schema}
		for _, mod := range c.modules {
			data := []byte(fmt.Sprintf("\x7fELF %s for nginx %s on %s/%s, build %d", mod, c.nginx, c.distro, c.arch, c.gen))
			name := manifest.FileName(mod, c.nginx)
			if err := os.WriteFile(filepath.Join(sub, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			m.Entries = append(m.Entries, manifest.Entry{Module: mod, Source: "./" + mod, Nginx: c.nginx,
				Distro: c.distro, Arch: c.arch, File: name, SHA256: hex.EncodeToString(sum[:]),
				BuiltAt: time.Date(2026, 11, 24, 10, c.gen, 0, 0, time.UTC).Format(time.RFC3339)})
		}
		m.Cells = []manifest.Cell{{Nginx: c.nginx, Distro: c.distro, Arch: c.arch}}
		if err := os.WriteFile(filepath.Join(sub, manifest.CellFileName(c.nginx, c.distro, c.arch)), m.Encode(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func client(t testing.TB, gh *ghfake.Server) (*API, *ghclient.Client) {
	t.Helper()
	c, err := ghclient.New(ghclient.Options{Token: "t0ken", APIURL: gh.URL, UploadURL: gh.Uploads.URL,
		Sleep: func(context.Context, time.Duration) error { return nil }, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return &API{C: c, Owner: "acme", Repo: "mod"}, c
}

// check asserts the release is consistent: unique names, no temporary
// manifests, every module asset listed in manifest.json with its real
// SHA-256 and every entry's asset present, SHA256SUMS matching; and that
// the module assets are exactly want.
func check(t *testing.T, gh *ghfake.Server, tag string, want []string) *manifest.Manifest {
	t.Helper()
	var rel *ghfake.Release
	for _, r := range gh.Releases(repo) {
		if r.Tag == tag {
			r := r
			rel = &r
		}
	}
	if rel == nil {
		t.Fatalf("no release %s", tag)
	}
	byName := map[string]ghfake.Asset{}
	var modules []string
	for _, a := range rel.Assets {
		if _, dup := byName[a.Name]; dup {
			t.Errorf("duplicate asset %s", a.Name)
		}
		byName[a.Name] = a
		if a.State != "uploaded" {
			t.Errorf("asset %s in state %s", a.Name, a.State)
		}
		if strings.HasSuffix(a.Name, ".so") {
			modules = append(modules, a.Name)
		} else if a.Name != ManifestName && a.Name != SumsName {
			t.Errorf("stray asset %s", a.Name)
		}
	}
	sort.Strings(modules)
	sort.Strings(want)
	if strings.Join(modules, " ") != strings.Join(want, " ") {
		t.Errorf("module assets:\n%v\nwant\n%v", modules, want)
	}
	ma, ok := byName[ManifestName]
	if !ok {
		t.Fatal("no manifest.json")
	}
	m, err := manifest.Parse(ManifestName, ma.Data)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, e := range m.Entries {
		listed[e.File] = true
		if a, ok := byName[e.File]; !ok || a.SHA256 != e.SHA256 {
			t.Errorf("manifest entry %s: sha %s, asset %+v", e.File, e.SHA256, a.SHA256)
		}
	}
	for _, n := range modules {
		if !listed[n] {
			t.Errorf("asset %s missing from manifest.json", n)
		}
	}
	if string(byName[SumsName].Data) != string(Sums(m)) {
		t.Errorf("SHA256SUMS:\n%s\nwant\n%s", byName[SumsName].Data, Sums(m))
	}
	if !strings.Contains(rel.Body, notesBegin) {
		t.Errorf("release notes lack the table:\n%s", rel.Body)
	}
	return m
}

func assetNames(cells ...cell) []string {
	var out []string
	for _, c := range cells {
		for _, m := range c.modules {
			out = append(out, manifest.AssetName(m, c.nginx, c.distro, c.arch))
		}
	}
	return out
}

// TestIdempotentSync: the first run uploads everything; an identical
// second run uploads nothing in four requests; a rebuilt file is replaced,
// never duplicated.
func TestIdempotentSync(t *testing.T) {
	gh := ghfake.New(t)
	gh.RequireToken("t0ken")
	gh.CreateRelease(repo, "v1.0.0", "v1.0.0", "Maintainer's words.")
	api, c := client(t, gh)
	dist := t.TempDir()
	a := cell{"1.26.3", "debian-12", "amd64", []string{"ngx_http_echo_module", "ngx_http_foo_module"}, 0}
	b := cell{"1.27.4", "debian-12", "amd64", []string{"ngx_http_echo_module", "ngx_http_foo_module"}, 0}
	writeDist(t, dist, a, b)
	ctx := context.Background()

	res, err := Sync(ctx, api, Options{Tag: "v1.0.0", Dist: dist, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploaded) != 4 || len(res.Replaced)+len(res.Unchanged) != 0 {
		t.Errorf("first run: %+v", res)
	}
	m := check(t, gh, "v1.0.0", assetNames(a, b))
	if len(m.Entries) != 4 || len(m.Cells) != 2 {
		t.Errorf("manifest: %d entries, %d cells", len(m.Entries), len(m.Cells))
	}
	body := gh.Releases(repo)[0].Body
	if !strings.HasPrefix(body, "Maintainer's words.\n\n"+notesBegin) ||
		!strings.Contains(body, "| ngx_http_echo_module | ? | 1.27.4 (NGINX Plus") && !strings.Contains(body, "| ngx_http_echo_module | ? | 1.27.4 | ✓ [.so](") {
		t.Errorf("notes:\n%s", body)
	}

	before, beforeClient := gh.Requests(), c.Requests()
	res, err = Sync(ctx, api, Options{Tag: "v1.0.0", Dist: dist})
	if err != nil {
		t.Fatal(err)
	}
	requests := gh.Requests() - before
	t.Logf("identical second run: %d requests", requests)
	if len(res.Uploaded)+len(res.Replaced) != 0 || len(res.Unchanged) != 4 || len(res.Wrote) != 0 {
		t.Errorf("second run: %+v", res)
	}
	if requests > 5 || c.Requests()-beforeClient != int64(requests) {
		t.Errorf("second run made %d requests (client counted %d), want at most 5", requests, c.Requests()-beforeClient)
	}

	// One rebuilt cell: its two files are replaced.
	a.gen = 1
	writeDist(t, dist, a)
	res, err = Sync(ctx, api, Options{Tag: "v1.0.0", Dist: dist})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replaced) != 2 || len(res.Unchanged) != 2 || len(res.Uploaded) != 0 {
		t.Errorf("rebuild: %+v", res)
	}
	check(t, gh, "v1.0.0", assetNames(a, b))
}

// TestCrashThenRerun kills runs at several points: the process killed
// after three uploads (context cancelled), 502s past the retries while
// uploading, and failures while renaming the manifest into place. After
// each the previous manifest is still valid, and a re-run leaves exactly
// the right assets and a consistent manifest. An upload cut short (which
// leaves a "starter" asset on GitHub) heals within the same run.
func TestCrashThenRerun(t *testing.T) {
	isUpload := func(method, host, path string) bool { return host == "uploads" }
	isPatch := func(method, host, path string) bool { return method == http.MethodPatch }
	for name, tc := range map[string]struct {
		faults   func(cancel func()) []ghfake.Fault
		recovers bool
	}{
		"killed after three uploads": {faults: func(cancel func()) []ghfake.Fault {
			n := 0
			return []ghfake.Fault{{Match: func(m, h, p string) bool {
				if h == "uploads" {
					if n++; n == 4 {
						cancel()
					}
				}
				return false
			}}}
		}},
		"502 past the retries": {faults: func(func()) []ghfake.Fault {
			var fs []ghfake.Fault
			for i := 4; i <= 8; i++ {
				fs = append(fs, ghfake.Fault{Match: isUpload, Nth: i, Status: 502})
			}
			return fs
		}},
		"rename of the manifest": {faults: func(func()) []ghfake.Fault {
			var fs []ghfake.Fault
			for i := 1; i <= 5; i++ {
				fs = append(fs, ghfake.Fault{Match: isPatch, Nth: i, Status: 500})
			}
			return fs
		}},
		"cut upload": {faults: func(func()) []ghfake.Fault {
			return []ghfake.Fault{{Match: isUpload, Nth: 3, Cut: true}}
		}, recovers: true},
	} {
		t.Run(name, func(t *testing.T) {
			gh := ghfake.New(t)
			gh.CreateRelease(repo, "v1", "v1", "")
			api, _ := client(t, gh)
			old := cell{"1.26.3", "debian-12", "amd64", []string{"ngx_http_a_module", "ngx_http_b_module"}, 0}
			d0 := t.TempDir()
			writeDist(t, d0, old)
			if _, err := Sync(context.Background(), api, Options{Tag: "v1", Dist: d0}); err != nil {
				t.Fatal(err)
			}
			// The next run adds a version and rebuilds the old one.
			old.gen = 1
			next := cell{"1.27.4", "debian-12", "amd64", []string{"ngx_http_a_module", "ngx_http_b_module", "ngx_http_c_module"}, 1}
			d1 := t.TempDir()
			writeDist(t, d1, old, next)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for _, f := range tc.faults(cancel) {
				gh.Inject(f)
			}
			_, err := Sync(ctx, api, Options{Tag: "v1", Dist: d1, Parallel: 1})
			switch {
			case tc.recovers && err != nil:
				t.Fatalf("the run did not heal: %v", err)
			case !tc.recovers && err == nil:
				t.Fatal("the faulty run succeeded")
			case err != nil:
				t.Logf("faulty run: %v", err)
				// The previous manifest is still valid where it stands.
				for _, a := range gh.Releases(repo)[0].Assets {
					if a.Name == ManifestName {
						if _, err := manifest.Parse(a.Name, a.Data); err != nil {
							t.Errorf("manifest after the crash: %v", err)
						}
					}
				}
				if _, err := Sync(context.Background(), api, Options{Tag: "v1", Dist: d1}); err != nil {
					t.Fatal(err)
				}
			}
			m := check(t, gh, "v1", assetNames(old, next))
			if len(m.Entries) != 5 {
				t.Errorf("%d entries", len(m.Entries))
			}
		})
	}
}

// syncAtOnce runs one sync of tag v1 per dist at the same time, each a
// run of its own, and returns their errors.
func syncAtOnce(t *testing.T, gh *ghfake.Server, dists ...string) []error {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(dists))
	for i, d := range dists {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api, _ := client(t, gh)
			_, errs[i] = Sync(context.Background(), api, Options{Tag: "v1", Dist: d, Parallel: 2, RunID: fmt.Sprint("run", i)})
		}()
	}
	wg.Wait()
	return errs
}

// TestConcurrentRuns runs two syncs of different cells (and one shared
// file) at once, many times: never a duplicate asset, never a lost
// manifest entry.
func TestConcurrentRuns(t *testing.T) {
	for round := 0; round < 10; round++ {
		gh := ghfake.New(t)
		gh.CreateRelease(repo, "v1", "v1", "")
		prev := cell{"1.24.0", "debian-12", "amd64", []string{"ngx_http_a_module"}, 0}
		d0 := t.TempDir()
		writeDist(t, d0, prev)
		api0, _ := client(t, gh)
		if _, err := Sync(context.Background(), api0, Options{Tag: "v1", Dist: d0}); err != nil {
			t.Fatal(err)
		}
		shared := cell{"1.26.3", "alpine-3.22", "arm64", []string{"ngx_http_a_module"}, 0}
		x := cell{"1.26.3", "debian-12", "amd64", []string{"ngx_http_a_module", "ngx_http_b_module"}, 0}
		y := cell{"1.27.4", "debian-12", "amd64", []string{"ngx_http_a_module", "ngx_http_b_module"}, 0}
		dx, dy := t.TempDir(), t.TempDir()
		writeDist(t, dx, x, shared)
		writeDist(t, dy, y, shared)
		errs := syncAtOnce(t, gh, dx, dy)
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		m := check(t, gh, "v1", assetNames(prev, x, y, shared))
		if len(m.Entries) != 6 {
			t.Fatalf("round %d: %d manifest entries, want 6", round, len(m.Entries))
		}
	}
}

// TestStarterAssetAndConflict: a broken earlier upload left a "starter"
// asset, and another uploader holds a name with different bytes.
func TestStarterAssetAndConflict(t *testing.T) {
	gh := ghfake.New(t)
	id := gh.CreateRelease(repo, "v1", "v1", "")
	c := cell{"1.26.3", "debian-12", "amd64", []string{"ngx_http_a_module", "ngx_http_b_module"}, 0}
	names := assetNames(c)
	gh.Inject(ghfake.Fault{Cut: true})
	api, _ := client(t, gh)
	// Leave a starter asset behind through a cut upload.
	if _, err := api.Upload(context.Background(), &Release{ID: id, Tag: "v1", UploadURL: gh.Uploads.URL + "/repos/acme/mod/releases/" + fmt.Sprint(id) + "/assets{?name,label}"},
		names[0], "", "application/octet-stream", []byte("half")); err == nil {
		t.Fatal("cut upload succeeded")
	}
	gh.AddAsset(repo, id, names[1], "", []byte("someone else's build"))
	d := t.TempDir()
	writeDist(t, d, c)
	res, err := Sync(context.Background(), api, Options{Tag: "v1", Dist: d})
	if err != nil {
		t.Fatal(err)
	}
	// Present before the run, unknown to the manifest: replaced.
	if len(res.Replaced) != 2 {
		t.Errorf("%+v", res)
	}
	check(t, gh, "v1", names)
}

// TestReleaseErrors: a missing release without --create, a bad token,
// and --create racing another creator.
func TestReleaseErrors(t *testing.T) {
	gh := ghfake.New(t)
	api, _ := client(t, gh)
	d := t.TempDir()
	writeDist(t, d, cell{"1.26.3", "debian-12", "amd64", []string{"ngx_http_a_module"}, 0})
	ctx := context.Background()
	gh.CreateRepo(repo, "main")
	if _, err := Sync(ctx, api, Options{Tag: "v2", Dist: d}); err == nil || !strings.Contains(err.Error(), "no release for tag v2: create it, or pass --create") {
		t.Errorf("missing release: %v", err)
	}
	if _, err := Sync(ctx, api, Options{Dist: d}); err == nil || !strings.Contains(err.Error(), "no release yet") {
		t.Errorf("no latest release: %v", err)
	}
	if _, err := Sync(ctx, api, Options{Tag: "v2", Create: true, Dist: d}); err != nil {
		t.Fatal(err)
	}
	check(t, gh, "v2", []string{manifest.AssetName("ngx_http_a_module", "1.26.3", "debian-12", "amd64")})
	gh.RequireToken("other")
	_, err := Sync(ctx, api, Options{Tag: "v2", Dist: d})
	if e := ghclient.Explain(err, "release"); err == nil || !strings.Contains(e.Error(), "401") {
		t.Errorf("bad token: %v", e)
	}
	if _, err := Sync(ctx, api, Options{Tag: "v2", Dist: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no built files") {
		t.Errorf("empty dist: %v", err)
	}
}

func TestNotesKeepText(t *testing.T) {
	m := &manifest.Manifest{Entries: []manifest.Entry{
		{Module: "ngx_http_a_module", Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Plus: []string{"R33"}},
		{Module: "ngx_http_a_module", Nginx: "1.27.4", Distro: "debian-12", Arch: "arm64", File: "ngx_http_a_module_1.27.4_debian-12_arm64.so"},
		{Module: "ngx_http_a_module", Nginx: "1.27.4", Distro: "debian-12", Arch: "arm64", Kind: "deb", File: "ngx_http_a_module_1.27.4_debian-12_arm64.deb", Package: "nginx-module-a=1.0-1"},
	}}
	dl := "https://github.com/o/r/releases/download/modules"
	body := Notes("Intro\n\n"+notesBegin+"\nold table\n"+notesEnd+"\n\nOutro", m, dl)
	want := "Intro\n\n" + notesBegin + "\n## nginx-modbuild builds\n\n### Compatibility\n\n| module | built from | nginx | debian-12/amd64 | debian-12/arm64 |\n|---|---|---|---|---|\n" +
		"| ngx_http_a_module | ? | 1.27.4 |  | ✓ [.so](" + dl + "/ngx_http_a_module_1.27.4_debian-12_arm64.so) [deb](" + dl + "/ngx_http_a_module_1.27.4_debian-12_arm64.deb) |\n| ngx_http_a_module | ? | 1.26.3 (NGINX Plus R33) | ✓ |  |\n" +
		"\n### Install\n\nThe build for the nginx a host runs (its version, distro and arch), verified (checksum, module, provenance), loaded with `nginx -t` and rolled back if that fails:\n\n" +
		"    sudo nginx-modbuild install --repo o/r --tag modules ngx_http_a_module\n" +
		"\nOr from the signed apt repository the `pages` job publishes at https://o.github.io/r: the one source line for where the host's nginx comes from (one component, not all: apt would take the build for the newest nginx line everywhere):\n\n" +
		"    sudo install -d -m 0755 /etc/apt/keyrings\n" +
		"    sudo curl -fsSL https://o.github.io/r/nginx-modbuild.gpg -o /etc/apt/keyrings/nginx-modbuild.gpg\n" +
		"    echo \"deb [signed-by=/etc/apt/keyrings/nginx-modbuild.gpg] https://o.github.io/r bookworm nginx-1.27\" | sudo tee /etc/apt/sources.list.d/nginx-modbuild.list   # nginx.org's 1.27 packages on debian-12\n" +
		"    sudo apt-get update && sudo apt-get install nginx-module-a\n" +
		"\nOr download the file for your nginx version, distro and arch from the table (the packages depend on exactly that nginx). Every file is attested by the workflow that built it (when the workflow has the attest job): check one by hand with `gh attestation verify FILE --repo o/r`.\n" +
		notesEnd + "\n\nOutro"
	if body != want {
		t.Errorf("notes:\n%s\nwant:\n%s", body, want)
	}
	if Notes(body, m, dl) != body {
		t.Error("notes not stable")
	}
}

// TestNotesAptLines is issue 33's item 5 (how to install: the apt line
// with its components): one source line per suite and component the
// release's .deb packages go to, each naming the nginx it is for, the
// packages to install, and nothing for .rpm/.apk or a release without
// .deb packages.
func TestNotesAptLines(t *testing.T) {
	m := &manifest.Manifest{Entries: []manifest.Entry{
		{Module: "ngx_http_a_module", Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64", Kind: "deb", Package: "nginx-module-a=1.0-1"},
		{Module: "ngx_http_a_module", Nginx: "1.22.1", Distro: "debian-12", Arch: "arm64", Kind: "deb", Package: "nginx-module-a=1.0-1"},
		{Module: "ngx_http_a_module", Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Kind: "deb", Package: "nginx-module-a=1.0-1"},
		{Module: "ngx_http_b_module", Nginx: "1.26.3", Distro: "debian-13", Arch: "amd64", Kind: "deb", Package: "nginx-module-b=2.0-1"},
		{Module: "ngx_http_a_module", Nginx: "1.26.3", Distro: "rockylinux-9", Arch: "amd64", Kind: "rpm", Package: "nginx-module-a=1.0-1"},
	}}
	got := aptSection(m, "Owner", "mods")
	for _, want := range []string{
		"https://owner.github.io/mods bookworm main\" | sudo tee /etc/apt/sources.list.d/nginx-modbuild.list   # debian-12's own nginx 1.22.1\n",
		"https://owner.github.io/mods bookworm nginx-1.26\" | sudo tee /etc/apt/sources.list.d/nginx-modbuild.list   # nginx.org's 1.26 packages on debian-12\n",
		"https://owner.github.io/mods trixie main\" | sudo tee /etc/apt/sources.list.d/nginx-modbuild.list   # debian-13's own nginx 1.26.3\n",
		"sudo apt-get install nginx-module-a nginx-module-b\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("apt lines lack %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "deb [signed-by="); n != 3 {
		t.Errorf("%d source lines, want 3 (one per suite and component):\n%s", n, got)
	}
	if got := aptSection(&manifest.Manifest{Entries: m.Entries[4:]}, "o", "r"); got != "" {
		t.Errorf("apt lines for a release with only .rpm packages:\n%s", got)
	}
}

// TestUploadOnlyToTheUploadsHost: an upload_url on another host (an API
// answer that is wrong or hostile) never receives the token.
func TestUploadOnlyToTheUploadsHost(t *testing.T) {
	gh := ghfake.New(t)
	id := gh.CreateRelease(repo, "v1", "v1", "")
	got := make(chan string, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Get("Authorization"):
		default:
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"id": 1, "name": "x"}`))
	}))
	defer other.Close()
	api, _ := client(t, gh)
	_, err := api.Upload(context.Background(), &Release{ID: id, Tag: "v1", UploadURL: other.URL + "/repos/acme/mod/releases/1/assets{?name,label}"},
		"x.so", "", "application/octet-stream", []byte("data"))
	if err == nil || !strings.Contains(err.Error(), "is not on the uploads host") {
		t.Errorf("err = %v", err)
	}
	select {
	case auth := <-got:
		t.Errorf("the other host received a request (Authorization %q)", auth)
	default:
	}
}

// TestConcurrentDifferentBuilds is issue 15's item 3: two runs replacing
// the same assets with different bytes at once. Whatever the
// interleaving, manifest.json and SHA256SUMS describe the bytes the
// release holds, and a run whose build did not end up published says so.
func TestConcurrentDifferentBuilds(t *testing.T) {
	for round := 0; round < 15; round++ {
		gh := ghfake.New(t)
		gh.CreateRelease(repo, "v1", "v1", "")
		base := cell{"1.26.3", "debian-12", "amd64", []string{"ngx_http_a_module", "ngx_http_b_module"}, 0}
		d0 := t.TempDir()
		writeDist(t, d0, base)
		api0, _ := client(t, gh)
		if _, err := Sync(context.Background(), api0, Options{Tag: "v1", Dist: d0}); err != nil {
			t.Fatal(err)
		}
		var dists []string
		for i := range 2 {
			c := base
			c.gen = i + 1
			d := t.TempDir()
			writeDist(t, d, c)
			dists = append(dists, d)
		}
		errs := syncAtOnce(t, gh, dists...)
		for _, err := range errs {
			if err != nil && !strings.Contains(err.Error(), "another run replaced") {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		// check compares manifest.json and SHA256SUMS with the bytes.
		check(t, gh, "v1", assetNames(base))
		if t.Failed() {
			t.Fatalf("round %d: inconsistent release (errors %v)", round, errs)
		}
	}
}

// TestTableShowsFailures: the compatibility table tells built, failed
// (with the phase and reason) and not built apart.
func TestTableShowsFailures(t *testing.T) {
	m := &manifest.Manifest{
		Entries: []manifest.Entry{{Module: "ngx_http_up_module", Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64"}},
		Cells: []manifest.Cell{{Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64",
			Failures: []manifest.Failure{{Module: "ngx_http_up_module", Phase: "compile", Error: "up.c:9: error: 'x' | undeclared\nmore"}}}},
	}
	got := Table(m)
	for _, want := range []string{"| ngx_http_up_module | ? | 1.26.3 | ✓ |", "| ngx_http_up_module | ? | 1.22.1 | ✗ compile: up.c:9: error: 'x' \\| undeclared |",
		"✓ built · ✗ failed to build (phase: reason) · empty: not built"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

// TestTableShowsTests: a cell whose modules' own tests ran says how many
// passed of those that ran, ✗ when one failed.
func TestTableShowsTests(t *testing.T) {
	m := &manifest.Manifest{
		Entries: []manifest.Entry{
			{Module: "ngx_http_headers_more_filter_module", Source: "hm", Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64"},
			{Module: "ngx_http_headers_more_filter_module", Source: "hm", Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64"},
			{Module: "ngx_http_echo_module", Source: "echo", Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64"}},
		Cells: []manifest.Cell{
			{Nginx: "1.26.3", Distro: "debian-12", Arch: "amd64", Tests: []manifest.Tests{{Module: "hm", Ran: 884, Passed: 824, Skipped: 60}}},
			{Nginx: "1.22.1", Distro: "debian-12", Arch: "amd64", Tests: []manifest.Tests{{Module: "hm", Ran: 884, Passed: 820, Failed: 4, Skipped: 60, FailedFiles: 1}}}},
	}
	got := Table(m)
	for _, want := range []string{"| ngx_http_headers_more_filter_module | ? | 1.26.3 | ✓ tests 824/824 |",
		"| ngx_http_headers_more_filter_module | ? | 1.22.1 | ✓ ✗ tests 820/824 |", "| ngx_http_echo_module | ? | 1.26.3 | ✓ |",
		"tests N/M: the module's own tests"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

// TestAssetCacheIsPerHost: two GitHubs (here two fakes, as two test runs
// or a github.com and an Enterprise Server would be) number their
// assets alike; with one cache directory, each download is its own
// host's bytes. (Keyed by repository and ID alone, the second read the
// first's manifest.json: the act e2e re-run then saw a module
// "changed" from a tree a run long before had built.)
func TestAssetCacheIsPerHost(t *testing.T) {
	cache := t.TempDir()
	for _, body := range []string{"first host's bytes", "second host's bytes"} {
		gh := ghfake.New(t)
		id := gh.CreateRelease(repo, "v1", "v1", "")
		asset := gh.AddAsset(repo, id, "manifest.json", "", []byte(body))
		api, _ := client(t, gh)
		api.Cache = cache
		for range 2 { // the second from the cache
			got, err := api.Download(context.Background(), asset)
			if err != nil || string(got) != body {
				t.Fatalf("asset %d on %s: %q, %v; want %q", asset, gh.URL, got, err, body)
			}
		}
	}
}
