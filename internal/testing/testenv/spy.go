package testenv

import (
	"os"
	"strings"
	"testing"
)

// SpyScript is shell (for a module's config, a test's run:) that appends
// to dump everything module code can read of secrets: its own
// environment and that of every ancestor process (/proc/PID/environ,
// which no Unsetenv in an ancestor changes), each headed by "== self" or
// "== ancestor PID CMDLINE".
func SpyScript(dump string) string {
	return `{
  echo "== self $$"; tr '\0' '\n' </proc/$$/environ
  p=$$
  while [ "$p" -gt 1 ]; do
    p=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
    [ -n "$p" ] && [ "$p" -gt 0 ] || break
    echo "== ancestor $p $(tr '\0' ' ' </proc/$p/cmdline | cut -c1-120)"
    tr '\0' '\n' </proc/$p/environ
  done
} >>` + dump + ` 2>&1
`
}

// NoSecretsIn fails the test when a secret's value (by name) is in what
// SpyScript wrote to dump, naming the process it was found in, and when
// the dump does not show at least minSelf processes of module code and
// the tool's own process (nginx-modbuild) among their ancestors.
func NoSecretsIn(t testing.TB, dump string, secrets map[string]string, minSelf int) {
	t.Helper()
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatalf("module code wrote nothing: %v", err)
	}
	text := string(data)
	for name, value := range secrets {
		for _, part := range strings.Split(value, "\n") {
			if len(part) < 8 || strings.HasPrefix(part, "-----") {
				continue // a key's armor lines are no secret
			}
			if i := strings.Index(text, part); i >= 0 {
				head := text[:i]
				where, _, _ := strings.Cut(head[strings.LastIndex(head, "== "):], "\n")
				t.Errorf("module code read %s (in %q)", name, where)
				break
			}
		}
	}
	if !strings.Contains(text, "nginx-modbuild") {
		t.Errorf("the tool's own process is not among the ancestors read:\n%s", Tail(text, 20))
	}
	if n := strings.Count(text, "== self"); n < minSelf {
		t.Errorf("%d processes of module code wrote their environment, want %d at least", n, minSelf)
	}
}
