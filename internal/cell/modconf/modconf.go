// Package modconf reads an nginx module's `config` files without running
// them, for what must be known before configure runs them: the order
// configs need (a config that reads a variable or switch another sets),
// and the libraries their probes look for. It never decides what gets
// built: configure runs the configs, and what it generated is the truth.
package modconf

import (
	"regexp"
	"sort"
	"strings"
)

var (
	assign = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
)

// logicalLines joins backslash-continued lines and drops comments.
func logicalLines(text string) []string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if i := commentStart(l); i >= 0 {
			l = l[:i]
		}
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// commentStart finds a # that starts a shell comment (outside quotes, at
// the start of a word).
func commentStart(l string) int {
	var quote byte
	for i := 0; i < len(l); i++ {
		ch := l[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t'):
			return i
		}
	}
	return -1
}

// own drops nginx's own variables (set by auto/ scripts), leaving the
// module's.
func own(set map[string]bool) []string {
	var out []string
	for v := range set {
		if nginxVar(v) {
			continue
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func nginxVar(v string) bool {
	for _, p := range []string{"ngx_", "NGX_", "HTTP_", "STREAM_", "MAIL_", "CORE_", "EVENT_", "USE_", "DYNAMIC_", "MODULES"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	switch v {
	case "CC", "CFLAGS", "CPP", "LINK", "PCRE", "OPENSSL", "ZLIB", "have", "PATH", "HOME":
		return true
	}
	return false
}
