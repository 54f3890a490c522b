package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/provenance/provenancetest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestInstallProvenance is issue 24's install side, with bundles of the
// virtual Sigstore served by the fake GitHub's attestations endpoint and
// its trusted root in a file: a .so its repository's workflow attested
// installs; with no attestation, one by another repository, one by the
// right repository's other workflow (--signer-workflow), or a bundle for
// other bytes, install refuses before any change, saying what did not
// match; --no-provenance installs, loudly.
func TestInstallProvenance(t *testing.T) {
	testenv.Tool(t, "cc", "gcc")
	nginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	mirror := testenv.Mirror(t, "nginx-1.22.1.tar.gz")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (nginx -t as Debian's nginx user)", "run the tests as root")
	}
	repo, _ := helloRepo(t, "nginx:\n  sha256:\n    1.22.1: 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31\n")
	h := newHarness(t)
	h.releaseRepo()
	if r := h.runIn(repo, "build", "--nginx", "1.22.1", "--mirror", mirror, "--smoke=false", "--distro", "debian-12",
		"--arch", "amd64", "--out", "dist", "--cache-dir", t.TempDir()); r.code != 0 {
		t.Fatalf("build: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	if r := h.runIn(repo, "release", "--tag", "modules", "--create", "--dist", "dist"); r.code != 0 {
		t.Fatalf("release: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	so := mustReadFile(t, filepath.Join(repo, "dist", "ngx_http_hello_world_module_1.22.1.so"))
	sum := sha256.Sum256(so)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(t.TempDir(), "trusted_root.jsonl")
	os.WriteFile(rootFile, []byte(provenancetest.Root(t, vs)+"\n"), 0o644)
	const watch = "https://github.com/acme/mod/.github/workflows/nginx-modbuild.yml@refs/heads/main"

	host := newInstallHost(t)
	inst := func(args ...string) result {
		t.Helper()
		return h.runIn(repo, append([]string{"install", "--nginx-binary", nginx, "--conf", host.conf, "--modules-path", host.modules,
			"--trusted-root", rootFile}, args...)...)
	}
	before := tree(t, host.root)
	refused := func(what, want string, args ...string) {
		t.Helper()
		r := inst(args...)
		if r.code != 1 || !strings.Contains(r.err.Error(), "its provenance does not hold") || !strings.Contains(r.err.Error(), want) {
			t.Errorf("%s: exit %d %v", what, r.code, r.err)
		}
		testenv.SameTree(t, what, before, tree(t, host.root))
	}
	refused("no attestation", "acme/mod has no attestation for "+digest, "--tag", "modules", "hello_world")
	gh := h.gh
	gh.AddAttestation("acme/mod", digest, provenancetest.Attest(t, vs, "https://github.com/evil/mod/.github/workflows/nginx-modbuild.yml@refs/heads/main", so))
	refused("attested by another repository", "attested by another signer: https://github.com/evil/mod/", "--tag", "modules", "hello_world")
	gh.AddAttestation("acme/mod", digest, provenancetest.Attest(t, vs, watch, so))
	refused("the repository's other workflow", "not acme/mod's workflow .github/workflows/by-hand.yml",
		"--tag", "modules", "--signer-workflow", ".github/workflows/by-hand.yml", "hello_world")

	// GitHub's newer listing: bundles by bundle_url, fetched without the
	// token from storage.
	gh.ListBundlesByURL()
	r := inst("--tag", "modules", "--signer-workflow", ".github/workflows/nginx-modbuild.yml", "hello_world")
	if r.code != 0 || !strings.Contains(r.stderr, "built by "+watch+" (attested)") || !strings.Contains(r.stdout, "nginx -t: ok") {
		t.Fatalf("an attested build: exit %d %v\n%s%s", r.code, r.err, r.stdout, r.stderr)
	}
	var byURL int
	for _, req := range gh.Log() {
		if req.Host == "storage" && strings.HasPrefix(req.Path, "/att/") && !req.Authorized && req.Status == 200 {
			byURL++
		}
	}
	if byURL == 0 {
		t.Error("no bundle was fetched by its bundle_url")
	}

	// A --from directory with a bundle beside the file, for other bytes.
	dir := t.TempDir()
	writeRelease(t, dir, "ngx_http_hello_world_module", "1.22.1", so, nil)
	os.WriteFile(filepath.Join(dir, manifest.AssetName("ngx_http_hello_world_module", "1.22.1", "debian-12", "amd64")+".sigstore.json"),
		provenancetest.Attest(t, vs, watch, []byte("other bytes")), 0o644)
	fresh := newInstallHost(t)
	host, before = fresh, tree(t, fresh.root)
	refused("a bundle for other bytes", "the attestation is for other bytes", "--from", dir, "--signer-repo", "acme/mod", "hello_world")
	os.WriteFile(filepath.Join(dir, manifest.AssetName("ngx_http_hello_world_module", "1.22.1", "debian-12", "amd64")+".sigstore.json"),
		provenancetest.BreakProof(t, provenancetest.Attest(t, vs, watch, so)), 0o644)
	refused("a broken log proof", "failed to verify log inclusion", "--from", dir, "--signer-repo", "acme/mod", "hello_world")
	if r := inst("--from", dir, "--no-provenance", "hello_world"); r.code != 0 || !strings.Contains(r.stderr, "WARNING: --no-provenance") {
		t.Errorf("--no-provenance: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
}

func TestInspectProvenance(t *testing.T) {
	t.Parallel()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const watch = "https://github.com/acme/mod/.github/workflows/nginx-modbuild.yml@refs/heads/main"
	file := filepath.Join(t.TempDir(), "x.so.sigstore.json")
	os.WriteFile(file, provenancetest.Attest(t, vs, watch, []byte("x")), 0o644)
	h := newHarness(t)
	r := h.run("inspect", "--provenance", file)
	sum := sha256.Sum256([]byte("x"))
	if r.code != 0 || !strings.Contains(r.stdout, "built by   "+watch) || !strings.Contains(r.stdout, "sha256:"+hex.EncodeToString(sum[:])) {
		t.Errorf("inspect --provenance: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	if r := h.run("inspect", "--provenance", filepath.Join(t.TempDir(), "none.json")); r.code != 1 {
		t.Errorf("a missing bundle: exit %d", r.code)
	}
}

// TestVerificationFlagNeedsSigner is issue 30's item 5: a flag that
// verifies attestations with no signer named (--from without
// --signer-repo) is a usage error, not an install with nothing verified;
// --repo with --from names the signer.
func TestVerificationFlagNeedsSigner(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", dir, "--signer-workflow", ".github/workflows/x.yml", "echo"}, "no signer is named"},
		{[]string{"--from", dir, "--trusted-root", "root.json", "echo"}, "no signer is named"},
		{[]string{"--from", dir, "--signer-workflow", "w.yml", "--trusted-root", "r.json", "echo"}, "--signer-workflow and --trusted-root"},
		{[]string{"--from", dir, "--signer-repo", "acme", "echo"}, "want owner/name"},
		{[]string{"--from", dir, "--no-provenance", "--signer-repo", "acme/mod", "echo"}, "either verify attestations or do not"},
	} {
		r := h.run(append([]string{"install", "--nginx-binary", "/bin/true"}, c.args...)...)
		if r.code != 2 || r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("install %v: exit %d %v, want a usage error saying %q", c.args, r.code, r.err, c.want)
		}
	}
	// --repo with --from: the repository named is the signer.
	o := &installOptions{from: dir, repo: repoFlags{repo: "acme/mod"}, repoSet: true}
	if got := o.signer(); got != "acme/mod" {
		t.Errorf("--repo acme/mod --from DIR: signer %q", got)
	}
	o = &installOptions{from: dir, repo: repoFlags{repo: "acme/mod"}} // $GITHUB_REPOSITORY only
	if got := o.signer(); got != "" {
		t.Errorf("--from DIR in acme/mod's workflow: signer %q (a --from source is nobody's unless named)", got)
	}
}
