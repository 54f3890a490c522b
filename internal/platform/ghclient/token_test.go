package ghclient

import "testing"

func TestCredentials(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		vars map[string]string
		for_ string
		want string
	}{
		{"the Action's token first", map[string]string{"NGINX_MODBUILD_TOKEN": "pat", "GITHUB_TOKEN": "job"}, "", "pat"},
		{"the job's token next", map[string]string{"GITHUB_TOKEN": "job"}, "https://api.github.com/", "job"},
		{"github.com's API by default", map[string]string{"GITHUB_TOKEN": "job"}, "https://api.github.com", "job"},
		{"not to another host", map[string]string{"GITHUB_TOKEN": "job"}, "http://127.0.0.1:9/", ""},
		{"GHES token stays on GHES", map[string]string{"GITHUB_TOKEN": "job", "GITHUB_API_URL": "https://ghe.example/api/v3"}, "https://api.github.com/", ""},
		{"GHES token on its own API", map[string]string{"GITHUB_TOKEN": "job", "GITHUB_API_URL": "https://ghe.example/api/v3"}, "https://ghe.example/api/v3/", "job"},
		{"GHES token for the run's own API", map[string]string{"GITHUB_TOKEN": "job", "GITHUB_API_URL": "https://ghe.example/api/v3"}, "", "job"},
		{"no token", map[string]string{}, "", ""},
	}
	for _, tt := range tests {
		if got := CredentialsFrom(env(tt.vars)).For(tt.for_); got != tt.want {
			t.Errorf("%s: For(%q) = %q, want %q", tt.name, tt.for_, got, tt.want)
		}
	}
}
