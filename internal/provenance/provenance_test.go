package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/nginx-modbuild/nginx-modbuild/internal/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/ghfake"
	"google.golang.org/protobuf/encoding/protojson"
)

// attest makes a real bundle (JSON, as GitHub's attestations API returns
// it) with the virtual Sigstore: an in-toto statement about data, signed
// by a certificate issued to identity, logged with an inclusion proof and
// timestamped.
func attest(t *testing.T, vs *ca.VirtualSigstore, identity string, data []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(data)
	statement, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "ngx_http_x_module_1.26.3_debian-12_amd64.so", "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": "https://slsa.dev/provenance/v1",
		"predicate":     map[string]any{"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1"}},
	})
	e, err := vs.AttestAtTime(identity, Issuer, statement, time.Now().Add(5*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := e.VerificationContent()
	cert := vc.Certificate()
	sc, _ := e.SignatureContent()
	env := sc.EnvelopeContent().RawEnvelope()
	var sigs []*protodsse.Signature
	for _, s := range env.Signatures {
		raw, _ := base64.StdEncoding.DecodeString(s.Sig)
		sigs = append(sigs, &protodsse.Signature{Sig: raw, Keyid: s.KeyID})
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	entries, _ := e.TlogEntries()
	var tles []*protorekor.TransparencyLogEntry
	for _, te := range entries {
		tle := te.TransparencyLogEntry()
		tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
		tles = append(tles, tle)
	}
	ts, _ := e.Timestamps()
	var rfc []*protocommon.RFC3161SignedTimestamp
	for _, s := range ts {
		rfc = append(rfc, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: s})
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
			TlogEntries:               tles,
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType, Signatures: sigs}},
	}
	if _, err := bundle.NewBundle(pb); err != nil {
		t.Fatalf("the test's bundle is not valid: %v", err)
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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
	good := attest(t, vs, watch, so)
	policy := Policy{Repo: "acme/mod"}

	p, err := Verify(good, digest, vs, policy)
	if err != nil {
		t.Fatalf("a correctly attested file: %v", err)
	}
	if p.Identity != watch || p.Issuer != Issuer {
		t.Errorf("provenance = %+v", p)
	}
	if _, err := Verify(good, digest, vs, Policy{Repo: "acme/mod", Workflow: ".github/workflows/nginx-modbuild.yml"}); err != nil {
		t.Errorf("the right workflow: %v", err)
	}

	other := attest(t, vs, "https://github.com/evil/mod/.github/workflows/nginx-modbuild.yml@refs/heads/main", so)
	if _, err := Verify(other, digest, vs, policy); !errors.Is(err, ErrOtherSigner) || !strings.Contains(err.Error(), "evil/mod") {
		t.Errorf("another repository: %v", err)
	}
	otherWF := attest(t, vs, "https://github.com/acme/mod/.github/workflows/release-by-hand.yml@refs/heads/main", so)
	if _, err := Verify(otherWF, digest, vs, Policy{Repo: "acme/mod", Workflow: ".github/workflows/nginx-modbuild.yml"}); !errors.Is(err, ErrOtherSigner) {
		t.Errorf("the right repository's other workflow: %v", err)
	}
	if _, err := Verify(otherWF, digest, vs, policy); err != nil {
		t.Errorf("without a workflow named, any of the repository's: %v", err)
	}
	if _, err := Verify(attest(t, vs, watch, []byte("other bytes")), digest, vs, policy); !errors.Is(err, ErrOtherBytes) {
		t.Errorf("a bundle for other bytes: %v", err)
	}
	// A broken log proof: the entry's inclusion proof no longer matches.
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(good, &pb); err != nil {
		t.Fatal(err)
	}
	proof := pb.VerificationMaterial.TlogEntries[0].InclusionProof
	proof.RootHash[0] ^= 1
	broken, _ := protojson.Marshal(&pb)
	_, err = Verify(broken, digest, vs, policy)
	if err == nil || errors.Is(err, ErrOtherSigner) || errors.Is(err, ErrOtherBytes) {
		t.Errorf("a broken log proof: %v", err)
	}
	t.Logf("a broken log proof: %v", err)
	// Another Sigstore (not the trusted root's) signed it.
	stranger, _ := ca.NewVirtualSigstore()
	_, err = Verify(attest(t, stranger, watch, so), digest, vs, policy)
	if err == nil {
		t.Error("a bundle from an untrusted Sigstore verified")
	}
	t.Logf("an untrusted Sigstore: %v", err)
	if _, err := Verify([]byte("{}"), digest, vs, policy); err == nil {
		t.Error("an empty bundle verified")
	}
}

// TestFetchFromTheFake reads bundles through the real go-github client
// from the fake GitHub's attestations endpoint, and verifies them.
func TestFetchFromTheFake(t *testing.T) {
	t.Parallel()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	gh := ghfake.New(t)
	gh.CreateRepo("acme/mod", "main")
	so := []byte("\x7fELF the module")
	sum := sha256.Sum256(so)
	digest := hex.EncodeToString(sum[:])
	gh.AddAttestation("acme/mod", "sha256:"+digest, attest(t, vs, "https://github.com/acme/mod/.github/workflows/w.yml@refs/heads/main", so))
	gc, err := ghclient.New(ghclient.Options{APIURL: gh.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := gc.Client
	bundles, err := Fetch(context.Background(), c, "acme", "mod", digest)
	if err != nil || len(bundles) != 1 {
		t.Fatalf("fetch: %d bundles, %v", len(bundles), err)
	}
	if _, err := Verify(bundles[0], digest, vs, Policy{Repo: "acme/mod"}); err != nil {
		t.Errorf("the fetched bundle: %v", err)
	}
	none, err := Fetch(context.Background(), c, "acme", "mod", strings.Repeat("0", 64))
	if err != nil || len(none) != 0 {
		t.Errorf("a digest with no attestation: %d, %v", len(none), err)
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
	line := func(v *ca.VirtualSigstore) string {
		// The virtual Sigstore keeps a log's ID as the hex text's bytes;
		// a trusted root file holds the raw key ID.
		logs := map[string]*root.TransparencyLog{}
		for k, l := range v.RekorLogs() {
			c := *l
			c.ID, _ = hex.DecodeString(k)
			logs[k] = &c
		}
		tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, v.FulcioCertificateAuthorities(), v.CTLogs(), v.TimestampingAuthorities(), logs)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tr.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	so := []byte("\x7fELF the module")
	sum := sha256.Sum256(so)
	digest := hex.EncodeToString(sum[:])
	b := attest(t, vs, "https://github.com/acme/mod/.github/workflows/w.yml@refs/heads/main", so)

	roots, err := TrustedRoot([]byte(line(other) + "\n" + line(vs) + "\n"))
	if err != nil || len(roots) != 2 {
		t.Fatalf("two roots: %d, %v", len(roots), err)
	}
	if _, err := VerifyAny([][]byte{b}, digest, roots, Policy{Repo: "acme/mod"}); err != nil {
		t.Errorf("under the second root: %v", err)
	}
	only, _ := TrustedRoot([]byte(line(other)))
	if _, err := VerifyAny([][]byte{b}, digest, only, Policy{Repo: "acme/mod"}); err == nil {
		t.Error("verified under a foreign root")
	}
	if _, err := VerifyAny(nil, digest, roots, Policy{Repo: "acme/mod"}); !errors.Is(err, ErrNone) {
		t.Errorf("no bundle: %v", err)
	}
	if _, err := TrustedRoot([]byte("\n")); err == nil {
		t.Error("an empty trusted root file was taken")
	}
}
