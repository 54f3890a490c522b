package nginxver

import (
	"strings"
	"testing"

	"github.com/hashicorp/go-version"
)

func mustAll(t *testing.T, ss ...string) []*version.Version {
	t.Helper()
	var vs []*version.Version
	for _, s := range ss {
		v, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func join(ss []string) string { return strings.Join(ss, " ") }
