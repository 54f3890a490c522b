// Package safename checks the names that become part of a file, asset
// or package name (module, nginx version, distro, arch): letters, digits
// and . _ + -, nothing a shell or a path would read specially.
package safename

import (
	"fmt"
	"regexp"
	"strings"
)

// pattern is what every such name must match: no separators, and no
// ".." (checked apart).
var pattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$`)

// Check refuses a name that could leave its directory or carry anything
// but letters, digits and . _ + -; what says which field it is.
func Check(what, s string) error {
	if !pattern.MatchString(s) || strings.Contains(s, "..") {
		return fmt.Errorf("%s %s: a name must be 1-100 letters, digits, '.', '_', '+' or '-', start with a letter or digit and contain no '..'", what, Quote(s))
	}
	return nil
}

// Quote quotes s for an error message, cut to 60 characters.
func Quote(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q... (%d bytes)", s[:60], len(s))
	}
	return fmt.Sprintf("%q", s)
}
