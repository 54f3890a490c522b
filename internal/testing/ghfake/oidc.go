package ghfake

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// RuntimeToken is the bearer token a job sends to the OIDC host
// (ACTIONS_ID_TOKEN_REQUEST_TOKEN).
const RuntimeToken = "fake-actions-runtime-token"

// IDTokenURL is ACTIONS_ID_TOKEN_REQUEST_URL for a job of repo: like
// GitHub's, it already has a query, and @actions/core adds
// "&audience=...".
func (s *Server) IDTokenURL(repo string) string {
	return s.OIDC.URL + "/idtoken?api-version=2.0&repository=" + repo
}

// idToken answers GET /idtoken as the Actions runtime does: {"value": JWT}
// with GitHub's claims for the job (issuer, audience as asked, repository,
// workflow ref). The JWT is signed with a key made here, which no verifier
// trusts: a test sees that a step asked for its identity, never an
// identity anyone accepts.
func (s *Server) idToken(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet || strings.Trim(req.URL.Path, "/") != "idtoken" {
		s.unexpected(w, req)
		return
	}
	if req.Header.Get("Authorization") != "Bearer "+RuntimeToken {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "the runtime token is missing or wrong"})
		return
	}
	q := req.URL.Query()
	repo := q.Get("repository")
	claims := map[string]any{
		"iss": "https://token.actions.githubusercontent.com", "aud": q.Get("audience"),
		"sub": "repo:" + repo + ":ref:refs/heads/main", "repository": repo, "ref": "refs/heads/main",
		"job_workflow_ref": repo + "/.github/workflows/e2e.yml@refs/heads/main", "runner_environment": "self-hosted",
		"iat": s.now.Unix(), "nbf": s.now.Unix(), "exp": s.now.Unix() + 300,
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": signedJWT(claims)})
}

func signedJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "JWT", "kid": "ghfake"})
	body, _ := json.Marshal(claims)
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(body)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	return signing + "." + enc.EncodeToString(ed25519.Sign(key, []byte(signing)))
}
