// Package provenancetest makes GitHub-style attestations for tests with
// sigstore-go's virtual Sigstore: real bundle JSON and the trusted root
// file that verifies them. Only tests import it.
package provenancetest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	ctx509util "github.com/google/certificate-transparency-go/x509util"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/provenance"
)

// Claims are what a test certificate says of the workflow run: its
// subject (the workflow's URL at a ref) and GitHub's Fulcio extensions.
type Claims struct {
	// Identity is the subject alternative name (job_workflow_ref).
	Identity string
	// SourceRepo and SourceOwner are the repository the run is in and its
	// owner (https://github.com/o/r, https://github.com/o); "" means the
	// Identity's own.
	SourceRepo, SourceOwner string
	// PredicateType is the statement's ("" is SLSA provenance v1).
	PredicateType string
	// NoSCT leaves out the certificate's signed certificate timestamp.
	NoSCT bool
}

// Attest makes a real bundle (JSON, as GitHub's attestations API returns
// it) with the virtual Sigstore: an in-toto statement about data, signed
// by a certificate issued to identity (with GitHub's source repository
// extensions and a CT log's SCT, as Fulcio issues them), logged with an
// inclusion proof and timestamped.
func Attest(t testing.TB, vs *ca.VirtualSigstore, identity string, data []byte) []byte {
	return AttestWith(t, vs, Claims{Identity: identity}, data)
}

// AttestWith is Attest with the certificate's and statement's claims.
func AttestWith(t testing.TB, vs *ca.VirtualSigstore, c Claims, data []byte) []byte {
	t.Helper()
	if c.SourceRepo == "" || c.SourceOwner == "" {
		// https://github.com/OWNER/NAME/.github/workflows/x.yml@ref
		parts := strings.SplitN(strings.TrimPrefix(c.Identity, "https://github.com/"), "/", 3)
		if len(parts) >= 2 {
			c.SourceRepo = cmpOr(c.SourceRepo, "https://github.com/"+parts[0]+"/"+parts[1])
			c.SourceOwner = cmpOr(c.SourceOwner, "https://github.com/"+parts[0])
		}
	}
	sum := sha256.Sum256(data)
	statement, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "ngx_http_x_module_1.26.3_debian-12_amd64.so", "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": cmpOr(c.PredicateType, provenance.PredicateSLSA),
		"predicate":     map[string]any{"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1"}},
	})
	leaf, key := leafCert(t, vs, c)
	signer, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: signer, Pub: &key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	env, err := ds.SignPayload(context.Background(), "application/vnd.in-toto+json", statement)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	tsr, err := vs.TimestampResponse(sig)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := vs.GenerateTlogEntry(leaf, env, sig, time.Now().Add(5*time.Minute).Unix(), true)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	tle := entry.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: leaf.Raw}},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: sig, Keyid: env.Signatures[0].KeyID}}}},
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

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// unexported reads a private key field of the virtual Sigstore: it signs
// only with its own leaf certificates, which carry neither GitHub's
// extensions nor an SCT, and Fulcio's certificates carry both.
func unexported(t testing.TB, vs *ca.VirtualSigstore, field string) *ecdsa.PrivateKey {
	t.Helper()
	f := reflect.ValueOf(vs).Elem().FieldByName(field)
	if !f.IsValid() {
		t.Fatalf("sigstore-go's VirtualSigstore has no field %s (another version?)", field)
	}
	return *(**ecdsa.PrivateKey)(unsafe.Pointer(f.UnsafeAddr()))
}

// leafCert is a Fulcio-like certificate for c, issued by the virtual
// Fulcio's intermediate, with an SCT from the virtual CT log embedded
// (unless c.NoSCT).
func leafCert(t testing.TB, vs *ca.VirtualSigstore, c Claims) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fulcio := vs.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	parent, parentKey := fulcio.Intermediates[0], unexported(t, vs, "fulcioIntermediateKey")
	der := func(s string) []byte { b, _ := asn1.MarshalWithParams(s, "utf8"); return b }
	notBefore := time.Now().Add(-time.Minute) // the timestamps (now, the log's now+5m) fall in its 10 minutes
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), EmailAddresses: []string{c.Identity},
		NotBefore: notBefore, NotAfter: notBefore.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte(provenance.Issuer)},
			{Id: certificate.OIDIssuerV2, Value: der(provenance.Issuer)},
			{Id: certificate.OIDSourceRepositoryURI, Value: der(c.SourceRepo)},
			{Id: certificate.OIDSourceRepositoryOwnerURI, Value: der(c.SourceOwner)},
		},
	}
	pre, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(pre)
	if c.NoSCT {
		return cert, key
	}
	// The SCT signs the certificate's TBS without the SCT list (what a
	// verifier rebuilds from the final certificate) and the issuer's key.
	logKey := unexported(t, vs, "ctlogKey")
	spki, err := x509.MarshalPKIXPublicKey(&logKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	logID := sha256.Sum256(spki) // RFC 6962's log ID
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: logID}, Timestamp: uint64(notBefore.UnixMilli())}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: ct.MerkleTreeLeaf{Version: ct.V1, LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{Timestamp: sct.Timestamp, EntryType: ct.PrecertLogEntryType,
			PrecertEntry: &ct.PreCert{IssuerKeyHash: sha256.Sum256(parent.RawSubjectPublicKeyInfo), TBSCertificate: cert.RawTBSCertificate}}}})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(input)
	s, err := ecdsa.SignASN1(rand.Reader, logKey, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sct.Signature = ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: s}
	list, err := ctx509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{&sct})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cttls.Marshal(*list)
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := asn1.Marshal(raw)
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier(ctx509.OIDExtensionCTSCT), Value: ext})
	final, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(final)
	return cert, key
}

// Root is the virtual Sigstore's trusted root as gh attestation
// trusted-root prints one (a JSON line).
func Root(t testing.TB, v *ca.VirtualSigstore) string {
	t.Helper()
	return rootJSON(t, v, true)
}

// RootWithoutCTLogs is Root with no CT log, as GitHub's own Sigstore
// instance's root is.
func RootWithoutCTLogs(t testing.TB, v *ca.VirtualSigstore) string {
	t.Helper()
	return rootJSON(t, v, false)
}

func rootJSON(t testing.TB, v *ca.VirtualSigstore, withCT bool) string {
	t.Helper()
	// The virtual Sigstore keeps a log's ID (Rekor's, the CT log's) as the
	// hex text's bytes; a trusted root file holds the raw key ID.
	logs := map[string]*root.TransparencyLog{}
	for k, l := range v.RekorLogs() {
		c := *l
		c.ID, _ = hex.DecodeString(k)
		logs[k] = &c
	}
	ctlogs := map[string]*root.TransparencyLog{}
	for k, l := range v.CTLogs() {
		if !withCT {
			break
		}
		c := *l
		c.ID, _ = hex.DecodeString(k)
		ctlogs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, v.FulcioCertificateAuthorities(), ctlogs, v.TimestampingAuthorities(), logs)
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
