// Package provenancetest makes GitHub-style attestations for tests with
// sigstore-go's virtual Sigstore: real bundle JSON and the trusted root
// file that verifies them. Only tests import it.
package provenancetest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nginx-modbuild/nginx-modbuild/internal/provenance"
)

// Attest makes a real bundle (JSON, as GitHub's attestations API returns
// it) with the virtual Sigstore: an in-toto statement about data, signed
// by a certificate issued to identity, logged with an inclusion proof and
// timestamped.
func Attest(t testing.TB, vs *ca.VirtualSigstore, identity string, data []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(data)
	statement, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "ngx_http_x_module_1.26.3_debian-12_amd64.so", "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": "https://slsa.dev/provenance/v1",
		"predicate":     map[string]any{"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1"}},
	})
	e, err := vs.AttestAtTime(identity, provenance.Issuer, statement, time.Now().Add(5*time.Minute), true)
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

// Root is the virtual Sigstore's trusted root as gh attestation
// trusted-root prints one (a JSON line).
func Root(t testing.TB, v *ca.VirtualSigstore) string {
	t.Helper()
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

// BreakProof returns the bundle with its log entry's inclusion proof
// broken (one bit of the root hash flipped).
func BreakProof(t testing.TB, bundleJSON []byte) []byte {
	t.Helper()
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(bundleJSON, &pb); err != nil {
		t.Fatal(err)
	}
	pb.VerificationMaterial.TlogEntries[0].InclusionProof.RootHash[0] ^= 1
	b, err := protojson.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
