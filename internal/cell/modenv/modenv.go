// Package modenv is the environment of every process that runs a module's
// code: configure (which sources the module's config, a shell program),
// make (the module's Makefile rules), the smoke nginx with the module
// loaded, and the module's own tests. That code is a third party's — a
// git: module at a moving tag, a pull request's — so it gets an
// allowlisted environment: the shell's basics and the compiler's
// variables, never a token, a signing key or the Actions runtime's
// request tokens. Unsetting a variable in Go does not change what
// /proc/PID/environ shows of the tool's own process, which module code
// can read too: WithoutSecrets is what the entry point re-executes
// itself with before it runs module code.
package modenv

import (
	"slices"
	"strings"
)

// allowed are the variables module processes keep. The compiler's
// (CC, CFLAGS, ...) are what an operator sets to build at all (a cross
// compiler, a hardening flag); Test::Nginx's tune its timing.
var allowed = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM", "TMPDIR", "TZ",
	"CC", "CXX", "CPP", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "LDLIBS", "AR",
	"PKG_CONFIG", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "CCACHE_DIR", "SOURCE_DATE_EPOCH",
	"PERL5LIB", "TEST_NGINX_SLEEP", "TEST_NGINX_TIMEOUT", "TEST_NGINX_VERBOSE",
}

// Allowed reports whether a module process keeps the variable name.
func Allowed(name string) bool { return slices.Contains(allowed, name) }

// Env is the allowlisted environment, read through getenv (os.Getenv).
func Env(getenv func(string) string) []string {
	var env []string
	for _, k := range allowed {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Filter keeps the allowlisted entries of environ (NAME=value lines).
func Filter(environ []string) []string {
	var env []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); Allowed(k) {
			env = append(env, kv)
		}
	}
	return env
}

// Secret reports whether a variable holds, or may hold, a credential: the
// Action's token and signing key (and the inputs they come in as), the
// GitHub tokens gh and git read, the Actions runtime's tokens and URLs
// (ACTIONS_ID_TOKEN_REQUEST_TOKEN mints OIDC tokens Sigstore certifies),
// an SSH or GPG agent's socket, and any NAME with TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL or a
// trailing KEY in it (AWS_SECRET_ACCESS_KEY, NPM_TOKEN).
func Secret(name string) bool {
	n := strings.ToUpper(name)
	if strings.HasPrefix(n, "ACTIONS_") && n != "ACTIONS_STEP_DEBUG" && n != "ACTIONS_RUNNER_DEBUG" {
		return true
	}
	if strings.HasPrefix(n, "NGINX_MODBUILD_") && (strings.Contains(n, "TOKEN") || strings.Contains(n, "SIGNING")) {
		return true
	}
	switch n {
	case "INPUT_REPO-SIGNING-KEY", "INPUT_REPO_SIGNING_KEY", "SSH_AUTH_SOCK", "GPG_AGENT_INFO":
		return true
	}
	for _, w := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return strings.HasSuffix(n, "_KEY") || strings.HasSuffix(n, "-KEY")
}

// WithoutSecrets is environ without the Secret variables, and the names
// it left out.
func WithoutSecrets(environ []string) (kept, dropped []string) {
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if Secret(k) {
			dropped = append(dropped, k)
			continue
		}
		kept = append(kept, kv)
	}
	return kept, dropped
}

// RunsModuleCode reports whether a command line runs module code: build
// (the CLI's, or the Action's entry with command: build).
func RunsModuleCode(args []string, getenv func(string) string) bool {
	if len(args) == 1 && args[0] == "action" {
		return strings.TrimSpace(getenv("INPUT_COMMAND")) == "build"
	}
	return len(args) > 0 && args[0] == "build"
}
