package ghfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
)

// attestation is one stored attestation: a Sigstore bundle (JSON) for a
// subject digest ("sha256:<hex>").
type attestation struct {
	digest string
	bundle json.RawMessage
}

// AddAttestation stores a bundle for a subject digest (sha256:<hex>) of
// a repository, as actions/attest does (POST /repos/{o}/{r}/attestations).
func (s *Server) AddAttestation(repo, digest string, bundle []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	r.attestations = append(r.attestations, attestation{digest: digest, bundle: append(json.RawMessage{}, bundle...)})
}

// ListBundlesByURL makes the attestations listing answer in GitHub's
// newer form: "bundle": null and a pre-signed "bundle_url" on the storage
// host, which serves the bundle snappy-compressed (and refuses a request
// that carries a token, as GitHub's blob storage does).
func (s *Server) ListBundlesByURL() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bundlesByURL = true
}

// routeAttestations serves GET /repos/{o}/{r}/attestations/{subject_digest}
// as GitHub does: {"attestations": [{"bundle": ..., "repository_id": N}]},
// newest first; 404 when the repository has none for the digest. POST
// /repos/{o}/{r}/attestations stores one ({"bundle": ...}) and answers 201
// with its id.
func (s *Server) routeAttestations(w http.ResponseWriter, req *http.Request, r *repo, rest []string, body []byte) bool {
	switch {
	case len(rest) == 1 && req.Method == http.MethodGet:
		digest := rest[0]
		if !strings.HasPrefix(digest, "sha256:") {
			validation(w, map[string]any{"resource": "Attestation", "field": "subject_digest", "code": "invalid"})
			return true
		}
		var list []map[string]any
		for i := len(r.attestations) - 1; i >= 0; i-- {
			if a := r.attestations[i]; a.digest == digest {
				entry := map[string]any{"bundle": a.bundle, "repository_id": r.id}
				if s.bundlesByURL {
					entry["bundle"] = nil
					entry["bundle_url"] = fmt.Sprintf("%s/att/%s/%d?sig=fake", s.Storage.URL, r.name, i)
				}
				list = append(list, entry)
			}
		}
		if len(list) == 0 {
			notFound(w)
			return true
		}
		writeJSON(w, http.StatusOK, map[string]any{"attestations": list})
		return true
	case len(rest) == 0 && req.Method == http.MethodPost:
		var in struct {
			Bundle json.RawMessage `json:"bundle"`
		}
		err := json.Unmarshal(body, &in)
		subjects := bundleSubjects(in.Bundle)
		if err != nil || len(in.Bundle) == 0 || len(subjects) == 0 {
			validation(w, map[string]any{"resource": "Attestation", "field": "bundle", "code": "invalid"})
			return true
		}
		for _, d := range subjects {
			r.attestations = append(r.attestations, attestation{digest: d, bundle: in.Bundle})
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": s.id("attestation")})
		return true
	}
	return false
}

// bundleSubjects are the sha256:<hex> subject digests of a bundle's
// in-toto statement.
func bundleSubjects(bundle []byte) []string {
	var b struct {
		DsseEnvelope struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if json.Unmarshal(bundle, &b) != nil || json.Unmarshal(b.DsseEnvelope.Payload, &st) != nil {
		return nil
	}
	var out []string
	for _, s := range st.Subject {
		if d := s.Digest["sha256"]; d != "" {
			out = append(out, "sha256:"+strings.ToLower(d))
		}
	}
	return out
}

// downloadBundle serves /att/{owner}/{repo}/{index} on the storage host:
// the bundle, snappy-compressed.
func (s *Server) downloadBundle(w http.ResponseWriter, parts []string) {
	r, ok := s.repos[parts[1]+"/"+parts[2]]
	i, err := strconv.Atoi(parts[3])
	if !ok || err != nil || i < 0 || i >= len(r.attestations) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(snappy.Encode(nil, r.attestations[i].bundle))
}
