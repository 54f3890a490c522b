package ghclient

import "strings"

// TokenVars are where the run's GitHub token comes from, first set wins:
// NGINX_MODBUILD_TOKEN (the Action's token input: a PAT or app token,
// whose pull requests trigger workflows), then the job's GITHUB_TOKEN.
var TokenVars = []string{"NGINX_MODBUILD_TOKEN", "GITHUB_TOKEN"}

// Credentials are the run's token and the API host it was issued for.
// This is the one place that decides which requests carry the token.
type Credentials struct {
	token  string
	apiURL string
}

// CredentialsFrom reads the token (TokenVars, in order) and the API it
// belongs to (GITHUB_API_URL, default github.com's).
func CredentialsFrom(getenv func(string) string) Credentials {
	c := Credentials{apiURL: getenv("GITHUB_API_URL")}
	for _, k := range TokenVars {
		if t := getenv(k); t != "" {
			c.token = t
			break
		}
	}
	if c.apiURL == "" {
		c.apiURL = DefaultAPIURL
	}
	return c
}

// Token is the token itself, to mask in logs ("" when there is none).
func (c Credentials) Token() string { return c.token }

// APIURL is the API host the token belongs to.
func (c Credentials) APIURL() string { return c.apiURL }

// For is the token for requests to apiURL ("" for the run's own API): only
// the host the token was issued for gets it. On GitHub Enterprise Server
// nginx/nginx is read from github.com anonymously, and an --upstream-url
// elsewhere never sees it.
func (c Credentials) For(apiURL string) string {
	if apiURL == "" || sameAPI(apiURL, c.apiURL) {
		return c.token
	}
	return ""
}

func sameAPI(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}
