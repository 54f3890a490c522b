package provenance_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/provenance"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/provenance/provenancetest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/ghfake"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	so := []byte("\x7fELF the module")
	sum := sha256.Sum256(so)
	digest := hex.EncodeToString(sum[:])
	const watch = "https://github.com/acme/mod/.github/workflows/nginx-modbuild.yml@refs/heads/main"
	good := provenancetest.Attest(t, vs, watch, so)
	policy := provenance.Policy{Repo: "acme/mod"}

	p, err := provenance.Verify(good, digest, vs, policy)
	if err != nil {
		t.Fatalf("a correctly attested file: %v", err)
	}
	if p.Identity != watch || p.Issuer != provenance.Issuer {
		t.Errorf("provenance = %+v", p)
	}
	if _, err := provenance.Verify(good, digest, vs, provenance.Policy{Repo: "acme/mod", Workflow: ".github/workflows/nginx-modbuild.yml"}); err != nil {
		t.Errorf("the right workflow: %v", err)
	}

	other := provenancetest.Attest(t, vs, "https://github.com/evil/mod/.github/workflows/nginx-modbuild.yml@refs/heads/main", so)
	if _, err := provenance.Verify(other, digest, vs, policy); !errors.Is(err, provenance.ErrOtherSigner) || !strings.Contains(err.Error(), "evil/mod") {
		t.Errorf("another repository: %v", err)
	}
	otherWF := provenancetest.Attest(t, vs, "https://github.com/acme/mod/.github/workflows/release-by-hand.yml@refs/heads/main", so)
	if _, err := provenance.Verify(otherWF, digest, vs, provenance.Policy{Repo: "acme/mod", Workflow: ".github/workflows/nginx-modbuild.yml"}); !errors.Is(err, provenance.ErrOtherSigner) {
		t.Errorf("the right repository's other workflow: %v", err)
	}
	if _, err := provenance.Verify(otherWF, digest, vs, policy); err != nil {
		t.Errorf("without a workflow named, any of the repository's: %v", err)
	}
	if _, err := provenance.Verify(provenancetest.Attest(t, vs, watch, []byte("other bytes")), digest, vs, policy); !errors.Is(err, provenance.ErrOtherBytes) {
		t.Errorf("a bundle for other bytes: %v", err)
	}
	// A broken log proof: the entry's inclusion proof no longer matches.
	broken := provenancetest.BreakProof(t, good)
	_, err = provenance.Verify(broken, digest, vs, policy)
	if err == nil || errors.Is(err, provenance.ErrOtherSigner) || errors.Is(err, provenance.ErrOtherBytes) {
		t.Errorf("a broken log proof: %v", err)
	}
	t.Logf("a broken log proof: %v", err)
	// Another Sigstore (not the trusted root's) signed it.
	stranger, _ := ca.NewVirtualSigstore()
	_, err = provenance.Verify(provenancetest.Attest(t, stranger, watch, so), digest, vs, policy)
	if err == nil {
		t.Error("a bundle from an untrusted Sigstore verified")
	}
	t.Logf("an untrusted Sigstore: %v", err)
	if _, err := provenance.Verify([]byte("{}"), digest, vs, policy); err == nil {
		t.Error("an empty bundle verified")
	}
}

// TestFetchFromTheFake reads bundles through the real go-github client
// from the fake GitHub's attestations endpoint, and verifies them: listed
// inline, and listed by bundle_url (GitHub's newer form: downloaded from
// storage without the token, snappy-decoded).
func TestFetchFromTheFake(t *testing.T) {
	t.Parallel()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	for _, byURL := range []bool{false, true} {
		gh := ghfake.New(t)
		gh.RequireToken("t0ken")
		gh.CreateRepo("acme/mod", "main")
		if byURL {
			gh.ListBundlesByURL()
		}
		so := []byte("\x7fELF the module")
		sum := sha256.Sum256(so)
		digest := hex.EncodeToString(sum[:])
		gh.AddAttestation("acme/mod", "sha256:"+digest, provenancetest.Attest(t, vs, "https://github.com/acme/mod/.github/workflows/w.yml@refs/heads/main", so))
		gc, err := ghclient.New(ghclient.Options{APIURL: gh.URL, Token: "t0ken"})
		if err != nil {
			t.Fatal(err)
		}
		bundles, err := provenance.Fetch(context.Background(), gc.Client, http.DefaultClient, "acme", "mod", digest)
		if err != nil || len(bundles) != 1 {
			t.Fatalf("by URL %v: fetch: %d bundles, %v", byURL, len(bundles), err)
		}
		if _, err := provenance.Verify(bundles[0], digest, vs, provenance.Policy{Repo: "acme/mod"}); err != nil {
			t.Errorf("by URL %v: the fetched bundle: %v", byURL, err)
		}
		none, err := provenance.Fetch(context.Background(), gc.Client, http.DefaultClient, "acme", "mod", strings.Repeat("0", 64))
		if err != nil || len(none) != 0 {
			t.Errorf("by URL %v: a digest with no attestation: %d, %v", byURL, len(none), err)
		}
		var storage int
		for _, r := range gh.Log() {
			if r.Host == "storage" {
				storage++
				if r.Authorized || r.Status != http.StatusOK {
					t.Errorf("a bundle download %+v", r)
				}
			}
		}
		if byURL != (storage == 1) {
			t.Errorf("by URL %v: %d bundle downloads", byURL, storage)
		}
	}
}

// TestFetchRefusesHostileBundleURL: a listing whose bundle_url answers
// with an error, bytes that are no snappy block, or a block that claims
// to decode to more than a bundle can be is an error naming the
// attestation, not a crash or an allocation of what the block claims.
func TestFetchRefusesHostileBundleURL(t *testing.T) {
	t.Parallel()
	huge := binary.AppendUvarint(nil, 1<<30) // a snappy block's length header
	for name, body := range map[string][]byte{"not found": nil, "no snappy": []byte("{\"mediaType\": 1}"), "bomb": append(huge, 0, 0, 0)} {
		blob := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if body == nil {
				http.NotFound(w, r)
				return
			}
			w.Write(body)
		}))
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"attestations": [{"bundle": null, "bundle_url": %q}]}`, blob.URL+"/b")
		}))
		gc, err := ghclient.New(ghclient.Options{APIURL: api.URL})
		if err != nil {
			t.Fatal(err)
		}
		_, err = provenance.Fetch(context.Background(), gc.Client, http.DefaultClient, "acme", "mod", strings.Repeat("a", 64))
		if err == nil || !strings.Contains(err.Error(), "attestation 1 of acme/mod") {
			t.Errorf("%s: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
		blob.Close()
		api.Close()
	}
}

// TestTrustedRootFile: the virtual Sigstore's trusted root written as
// `gh attestation trusted-root` prints one (JSON lines) verifies its
// bundles; an empty or foreign file does not.
func TestTrustedRootFile(t *testing.T) {
	t.Parallel()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ca.NewVirtualSigstore()
	so := []byte("\x7fELF the module")
	sum := sha256.Sum256(so)
	digest := hex.EncodeToString(sum[:])
	b := provenancetest.Attest(t, vs, "https://github.com/acme/mod/.github/workflows/w.yml@refs/heads/main", so)

	roots, err := provenance.TrustedRoot([]byte(provenancetest.Root(t, other) + "\n" + provenancetest.Root(t, vs) + "\n"))
	if err != nil || len(roots) != 2 {
		t.Fatalf("two roots: %d, %v", len(roots), err)
	}
	if _, err := provenance.VerifyAny([][]byte{b}, digest, roots, provenance.Policy{Repo: "acme/mod"}); err != nil {
		t.Errorf("under the second root: %v", err)
	}
	only, _ := provenance.TrustedRoot([]byte(provenancetest.Root(t, other)))
	if _, err := provenance.VerifyAny([][]byte{b}, digest, only, provenance.Policy{Repo: "acme/mod"}); err == nil {
		t.Error("verified under a foreign root")
	}
	if _, err := provenance.VerifyAny(nil, digest, roots, provenance.Policy{Repo: "acme/mod"}); !errors.Is(err, provenance.ErrNone) {
		t.Errorf("no bundle: %v", err)
	}
	if _, err := provenance.TrustedRoot([]byte("\n")); err == nil {
		t.Error("an empty trusted root file was taken")
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const watch = "https://github.com/acme/mod/.github/workflows/w.yml@refs/heads/main"
	d, err := provenance.Describe(provenancetest.Attest(t, vs, watch, []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("x"))
	if d.Identity != watch || d.Issuer != provenance.Issuer || len(d.Subjects) != 1 || !strings.HasSuffix(d.Subjects[0], hex.EncodeToString(sum[:])) {
		t.Errorf("described %+v", d)
	}
	if _, err := provenance.Describe([]byte("{}")); err == nil {
		t.Error("an empty bundle was described")
	}
}

// TestPolicyAsStrictAsGh is issue 30's items 6 and 9: a certificate whose
// subject is acme/mod's workflow but whose run was in evil/fork (a
// reusable workflow of acme/mod called from elsewhere) is refused, as gh
// attestation verify --repo acme/mod refuses it; so is a certificate with
// no signed certificate timestamp under a root that has a CT log (the
// public-good one), and an attestation whose predicate is not build
// provenance (an SPDX SBOM does not say who built the file).
func TestPolicyAsStrictAsGh(t *testing.T) {
	t.Parallel()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	so := []byte("\x7fELF the module")
	sum := sha256.Sum256(so)
	digest := hex.EncodeToString(sum[:])
	const watch = "https://github.com/acme/mod/.github/workflows/nginx-modbuild.yml@refs/heads/main"
	policy := provenance.Policy{Repo: "acme/mod"}
	if _, err := provenance.Verify(provenancetest.Attest(t, vs, watch, so), digest, vs, policy); err != nil {
		t.Fatalf("acme/mod's own run: %v", err)
	}
	for _, c := range []struct {
		what   string
		claims provenancetest.Claims
		want   error
		text   string
	}{
		{"a reusable workflow of acme/mod run in evil/fork", provenancetest.Claims{Identity: watch, SourceRepo: "https://github.com/evil/fork", SourceOwner: "https://github.com/evil"},
			provenance.ErrOtherSigner, "ran in https://github.com/evil/fork"},
		{"a run in another repository of the same owner", provenancetest.Claims{Identity: watch, SourceRepo: "https://github.com/acme/other"},
			provenance.ErrOtherSigner, "ran in https://github.com/acme/other"},
		{"a certificate naming no source repository", provenancetest.Claims{Identity: watch, SourceRepo: "-", SourceOwner: "-"},
			provenance.ErrOtherSigner, "ran in -"},
		{"an SPDX SBOM", provenancetest.Claims{Identity: watch, PredicateType: "https://spdx.dev/Document/v2.3"},
			provenance.ErrNotProvenance, "https://spdx.dev/Document/v2.3"},
	} {
		_, err := provenance.Verify(provenancetest.AttestWith(t, vs, c.claims, so), digest, vs, policy)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v", c.what, err)
		}
	}
	noSCT := provenancetest.AttestWith(t, vs, provenancetest.Claims{Identity: watch, NoSCT: true}, so)
	if _, err := provenance.Verify(noSCT, digest, vs, policy); err == nil || !strings.Contains(err.Error(), "certificate timestamp") {
		t.Errorf("no SCT under a root with a CT log: %v", err)
	}
	// A root without CT logs (GitHub's own instance, for private
	// repositories) asks for none.
	roots, err := provenance.TrustedRoot([]byte(provenancetest.RootWithoutCTLogs(t, vs)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provenance.Verify(noSCT, digest, roots[0], policy); err != nil {
		t.Errorf("no SCT under a root without CT logs: %v", err)
	}
}
