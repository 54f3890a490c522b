package plus

import (
	"fmt"
	"regexp"
	"strings"
)

// Binary is what `nginx -v` says about an installed nginx.
type Binary struct {
	// Version is the open-source version the binary reports.
	Version string `json:"version"`
	// Plus is the Plus release, when the binary is NGINX Plus ("R12 P3").
	Plus string `json:"plus,omitempty"`
}

var (
	nginxV   = regexp.MustCompile(`nginx/(\d+\.\d+\.\d+)`)
	plusTail = regexp.MustCompile(`\(nginx-plus(?:-([A-Za-z0-9.-]+))?\)`)
)

// ParseNginxV reads the output of `nginx -v` (it prints on stderr), e.g.
// "nginx version: nginx/1.11.10 (nginx-plus-r12)" or
// "nginx version: nginx/1.22.1".
func (t Table) ParseNginxV(out string) (Binary, error) {
	m := nginxV.FindStringSubmatch(out)
	if m == nil {
		return Binary{}, fmt.Errorf("no \"nginx/X.Y.Z\" in nginx -v output %q", strings.TrimSpace(out))
	}
	b := Binary{Version: m[1]}
	if p := plusTail.FindStringSubmatch(out); p != nil {
		if p[1] == "" {
			b.Plus = "unknown"
			return b, nil
		}
		match, err := t.Lookup(p[1])
		if err != nil {
			// The binary's own version is authoritative for what modules
			// it loads; an unknown release name only loses the label.
			b.Plus = strings.ToUpper(p[1])
			return b, nil
		}
		b.Plus = match.Release
	}
	return b, nil
}
