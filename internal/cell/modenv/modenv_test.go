package modenv

import (
	"slices"
	"testing"
)

func TestWithoutSecrets(t *testing.T) {
	t.Parallel()
	env := []string{"PATH=/bin", "HOME=/root", "GITHUB_TOKEN=a", "GH_TOKEN=b", "NGINX_MODBUILD_TOKEN=c", "NGINX_MODBUILD_SIGNING_KEY=d",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=e", "ACTIONS_ID_TOKEN_REQUEST_URL=f", "ACTIONS_RUNTIME_TOKEN=g", "ACTIONS_CACHE_URL=h",
		"INPUT_TOKEN=i", "INPUT_REPO-SIGNING-KEY=j", "AWS_SECRET_ACCESS_KEY=k", "NPM_TOKEN=l", "SSH_AUTH_SOCK=m", "DB_PASSWORD=n",
		"INPUT_COMMAND=build", "INPUT_NGINX=1.26.3", "GITHUB_OUTPUT=/o", "GITHUB_STEP_SUMMARY=/s", "ACTIONS_STEP_DEBUG=true", "NGINX_MODBUILD_UPLOAD_URL=u"}
	kept, dropped := WithoutSecrets(env)
	want := []string{"PATH=/bin", "HOME=/root", "INPUT_COMMAND=build", "INPUT_NGINX=1.26.3", "GITHUB_OUTPUT=/o", "GITHUB_STEP_SUMMARY=/s", "ACTIONS_STEP_DEBUG=true", "NGINX_MODBUILD_UPLOAD_URL=u"}
	if !slices.Equal(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	if len(dropped) != len(env)-len(want) {
		t.Errorf("dropped %v", dropped)
	}
}

func TestModuleEnvironmentIsAllowlisted(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PATH": "/bin", "CC": "gcc", "LANG": "C", "GITHUB_TOKEN": "x", "INPUT_NGINX": "1", "LD_PRELOAD": "/evil.so", "BASH_ENV": "/x"}
	got := Env(func(k string) string { return env[k] })
	if want := []string{"PATH=/bin", "LANG=C", "CC=gcc"}; !slices.Equal(got, want) {
		t.Errorf("Env %v, want %v", got, want)
	}
	if got := Filter([]string{"PATH=/bin", "GITHUB_TOKEN=x", "PERL5LIB=/l"}); !slices.Equal(got, []string{"PATH=/bin", "PERL5LIB=/l"}) {
		t.Errorf("Filter %v", got)
	}
}

func TestRunsModuleCode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		cmd  string
		want bool
	}{
		{[]string{"build", "--nginx", "1.26.3"}, "", true},
		{[]string{"action"}, "build", true},
		{[]string{"action"}, " build\n", true},
		{[]string{"action"}, "release", false},
		{[]string{"release"}, "", false},
		{[]string{"install"}, "build", false},
		{nil, "", false},
	} {
		if got := RunsModuleCode(c.args, func(string) string { return c.cmd }); got != c.want {
			t.Errorf("%v with INPUT_COMMAND %q: %v", c.args, c.cmd, got)
		}
	}
}
