// Package provenance verifies GitHub artifact attestations: a Sigstore
// bundle (an in-toto statement in a DSSE envelope, signed by a short-lived
// Fulcio certificate issued to a GitHub Actions workflow, logged in Rekor)
// for a file's SHA-256, against a trusted root and a policy saying which
// repository (and, optionally, which workflow) must have built it.
// Verification is sigstore-go's, as gh attestation verify does it.
package provenance

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Issuer is GitHub Actions' OIDC issuer: the only one whose certificates
// say which workflow ran.
const Issuer = "https://token.actions.githubusercontent.com"

// PredicateSLSA is the predicate of a build provenance attestation
// (actions/attest-build-provenance, actions/attest's default): the only
// one that says the workflow built the file (an SBOM, say, does not).
const PredicateSLSA = "https://slsa.dev/provenance/v1"

// Policy is who must have built the file.
type Policy struct {
	// Repo is owner/name: the workflow must be in that repository.
	Repo string
	// Workflow, when set, is the workflow file's path in it
	// (.github/workflows/nginx-modbuild.yml).
	Workflow string
}

// Provenance is what a verified certificate says of the build.
type Provenance struct {
	// Identity is the certificate's subject: the workflow's URL at a ref.
	Identity string `json:"identity"`
	Issuer   string `json:"issuer"`
}

// san is the certificate subject a policy accepts: the workflow file of
// the repository, at any ref.
func (p Policy) san() (string, error) {
	owner, name, ok := strings.Cut(p.Repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("the signer repository %q is not owner/name", p.Repo)
	}
	wf := `\.github/workflows/[^@]+`
	if p.Workflow != "" {
		wf = regexp.QuoteMeta(strings.TrimPrefix(p.Workflow, "/"))
	}
	return "^https://github\\.com/" + regexp.QuoteMeta(owner) + "/" + regexp.QuoteMeta(name) + "/" + wf + "@", nil
}

// Errors that say what did not match, before or after the cryptography.
var (
	// ErrOtherBytes: the statement's subjects do not include the file's
	// digest.
	ErrOtherBytes = errors.New("the attestation is for other bytes")
	// ErrOtherSigner: a valid attestation, by a workflow the policy does
	// not name.
	ErrOtherSigner = errors.New("attested by another signer")
	// ErrNotProvenance: an attestation of something else (an SBOM).
	ErrNotProvenance = errors.New("not a build provenance attestation")
)

// Verify checks bundleJSON for the file whose SHA-256 is sha256Hex: the
// statement names that digest; sigstore-go verifies the certificate
// chain to tm's Fulcio roots, the transparency log entry (inclusion in
// tm's Rekor log), a timestamp and the signature over the statement; then
// the certificate's issuer and subject must be the policy's.
func Verify(bundleJSON []byte, sha256Hex string, tm root.TrustedMaterial, p Policy) (*Provenance, error) {
	digest, err := hex.DecodeString(sha256Hex)
	if err != nil || len(digest) != 32 {
		return nil, fmt.Errorf("%q is not a SHA-256", sha256Hex)
	}
	san, err := p.san()
	if err != nil {
		return nil, err
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	if err := checkStatement(&b, sha256Hex); err != nil {
		return nil, err
	}
	opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	if len(tm.CTLogs()) > 0 {
		// Sigstore's public-good Fulcio logs every certificate it issues
		// in its CT log, and gh and cosign require that proof; GitHub's
		// own instance (private repositories) has no CT log.
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	v, err := verify.NewVerifier(tm, opts...)
	if err != nil {
		return nil, err
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return nil, fmt.Errorf("the attestation does not verify: %w", err)
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, errors.New("the attestation has no certificate: not a GitHub workflow's")
	}
	c := res.Signature.Certificate
	out := &Provenance{Identity: c.SubjectAlternativeName, Issuer: c.Issuer}
	who := p.Repo
	if p.Workflow != "" {
		who += "'s workflow " + p.Workflow
	}
	if c.Issuer != Issuer || !regexp.MustCompile(san).MatchString(c.SubjectAlternativeName) {
		return out, fmt.Errorf("%w: %s (issuer %s), not %s", ErrOtherSigner, c.SubjectAlternativeName, c.Issuer, who)
	}
	// The subject is the workflow file that ran, which may be a reusable
	// workflow of p.Repo called from any repository: the run's own
	// repository and owner must be p.Repo's too (gh attestation verify
	// --repo checks the same).
	owner, _, _ := strings.Cut(p.Repo, "/")
	if !strings.EqualFold(c.SourceRepositoryURI, "https://github.com/"+p.Repo) || !strings.EqualFold(c.SourceRepositoryOwnerURI, "https://github.com/"+owner) {
		return out, fmt.Errorf("%w: %s ran in %s (owner %s), not in %s", ErrOtherSigner, c.SubjectAlternativeName,
			orNone(c.SourceRepositoryURI), orNone(c.SourceRepositoryOwnerURI), who)
	}
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none named)"
	}
	return s
}

// checkStatement checks that the in-toto statement is build provenance
// and that its subjects include the digest.
func checkStatement(b *bundle.Bundle, sha256Hex string) error {
	env, err := b.Envelope()
	if err != nil {
		return fmt.Errorf("not an attestation (no DSSE envelope): %w", err)
	}
	st, err := env.Statement()
	if err != nil {
		return fmt.Errorf("not an in-toto statement: %w", err)
	}
	if st.PredicateType != PredicateSLSA {
		return fmt.Errorf("%w: its predicate is %s, not build provenance (%s): it does not say this workflow built the file", ErrNotProvenance, st.PredicateType, PredicateSLSA)
	}
	var have []string
	for _, s := range st.Subject {
		if d := s.Digest["sha256"]; d != "" {
			if strings.EqualFold(d, sha256Hex) {
				return nil
			}
			have = append(have, s.Name+" "+d[:min(12, len(d))])
		}
	}
	return fmt.Errorf("%w: its subjects are %s, the file's SHA-256 is %s", ErrOtherBytes, strings.Join(have, ", "), sha256Hex)
}

// TrustedRoot reads a trusted root file: what `gh attestation
// trusted-root` prints (Sigstore's public-good instance, and GitHub's own
// for private repositories), one JSON document per line; the first line
// that parses is taken unless more are given, in which case all are
// tried in turn by VerifyAny.
func TrustedRoot(data []byte) ([]root.TrustedMaterial, error) {
	var out []root.TrustedMaterial
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		tr, err := root.NewTrustedRootFromJSON([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("trusted root: %w (want the output of gh attestation trusted-root)", err)
		}
		out = append(out, tr)
	}
	if len(out) == 0 {
		return nil, errors.New("trusted root: the file is empty (want the output of gh attestation trusted-root)")
	}
	return out, nil
}

// VerifyAny verifies the first of bundles that holds under one of the
// trusted roots; the errors of all when none does. No bundle at all is
// its own error: nothing attests the file.
func VerifyAny(bundles [][]byte, sha256Hex string, roots []root.TrustedMaterial, p Policy) (*Provenance, error) {
	if len(bundles) == 0 {
		return nil, ErrNone
	}
	var errs []error
	for _, b := range bundles {
		for _, tm := range roots {
			prov, err := Verify(b, sha256Hex, tm, p)
			if err == nil {
				return prov, nil
			}
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(errs...)
}

// ErrNone: no attestation names the file at all.
var ErrNone = errors.New("no attestation for it")

// Described is what a bundle's certificate says of the build, read without
// verifying it (install verifies; inspect tells).
type Described struct {
	// Identity is the workflow at a ref; Issuer the OIDC issuer.
	Identity string `json:"identity"`
	Issuer   string `json:"issuer"`
	// Repository, Workflow (the signer's workflow at a ref), Commit and
	// Run come from the certificate's Fulcio extensions (GitHub sets them).
	Repository string `json:"repository,omitempty"`
	Workflow   string `json:"workflow,omitempty"`
	Commit     string `json:"commit,omitempty"`
	Run        string `json:"run,omitempty"`
	// Subjects are the statement's file names with their SHA-256.
	Subjects []string `json:"subjects,omitempty"`
}

// Describe reads who built what from a bundle.
func Describe(bundleJSON []byte) (*Described, error) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, err
	}
	cert := vc.Certificate()
	if cert == nil {
		return nil, errors.New("the bundle holds a public key, not a certificate: not a GitHub workflow's attestation")
	}
	s, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, err
	}
	d := &Described{Identity: s.SubjectAlternativeName, Issuer: s.Issuer, Repository: s.SourceRepositoryURI,
		Workflow: s.BuildSignerURI, Commit: s.SourceRepositoryDigest, Run: s.RunInvocationURI}
	if env, err := b.Envelope(); err == nil {
		if st, err := env.Statement(); err == nil {
			for _, sub := range st.Subject {
				d.Subjects = append(d.Subjects, sub.Name+" sha256:"+sub.Digest["sha256"])
			}
		}
	}
	return d, nil
}
