package cli

import (
	"strings"
	"testing"
)

// TestExamplesAreReal: every command has examples, --help and help
// COMMAND print them, and every flag an example uses is one of its
// command's (and the verb, for install, one it has).
func TestExamplesAreReal(t *testing.T) {
	h := newHarness(t)
	d := &Deps{Getenv: func(string) string { return "" }}
	d.complete()
	for _, c := range commands() {
		ex := commandExamples[c.name]
		if ex == "" {
			t.Errorf("%s has no examples", c.name)
			continue
		}
		for _, r := range []result{h.run(c.name, "--help"), h.run("help", c.name)} {
			if r.code != 0 || !strings.Contains(r.stdout, "Examples:\n"+ex) || !strings.Contains(r.stdout, "Usage: nginx-modbuild "+c.name) {
				t.Errorf("%s's help (exit %d) lacks its examples:\n%s", c.name, r.code, r.stdout)
			}
		}
		fs := c.flags(d)
		text := strings.ReplaceAll(ex, "\\\n", " ")
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "sudo "))
			if strings.HasPrefix(line, "#") {
				continue
			}
			words := strings.Fields(line)
			if len(words) < 2 || words[0] != "nginx-modbuild" || words[1] != c.name {
				t.Errorf("%s: an example that is not nginx-modbuild %s: %q", c.name, c.name, line)
				continue
			}
			for _, w := range words[2:] {
				name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
				if strings.HasPrefix(w, "--") && fs.Lookup(name) == nil {
					t.Errorf("%s: the example %q uses --%s, which %s does not have", c.name, line, name, c.name)
				}
			}
		}
	}
	if r := h.run("help", "nosuch"); r.code != 2 {
		t.Errorf("help nosuch: exit %d", r.code)
	}
}
