// Package nginxver holds what an nginx open-source version means: its
// release line, its nginx_version number and the one way we format it.
package nginxver

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"github.com/hashicorp/go-version"
)

// Line is an nginx release line.
type Line string

// The two release lines of open-source nginx: an even minor version is
// stable, an odd one mainline.
const (
	Stable   Line = "stable"
	Mainline Line = "mainline"
)

// ParseLine accepts "stable" or "mainline".
func ParseLine(s string) (Line, error) {
	switch Line(s) {
	case Stable, Mainline:
		return Line(s), nil
	}
	return "", fmt.Errorf("unknown release line %q (want stable or mainline)", s)
}

var exact = regexp.MustCompile(`^(\d{1,4})\.(\d{1,4})\.(\d{1,4})$`)

// Parse accepts an exact nginx release version, X.Y.Z, and nothing else:
// no "v" prefix, no pre-release suffix, no two-part versions. nginx has
// released every version in that form since 0.1.0.
func Parse(s string) (*version.Version, error) {
	if !exact.MatchString(s) {
		return nil, fmt.Errorf("bad nginx version %q (want X.Y.Z, e.g. 1.26.3)", s)
	}
	return version.NewVersion(s)
}

// LineOf says which line v belongs to.
func LineOf(v *version.Version) Line {
	if v.Segments()[1]%2 == 0 {
		return Stable
	}
	return Mainline
}

// String formats v the way nginx does: "1.26.3".
func String(v *version.Version) string {
	s := v.Segments()
	return fmt.Sprintf("%d.%d.%d", s[0], s[1], s[2])
}

// Number is nginx's own nginx_version macro for v (src/core/nginx.h):
// 1.26.3 is 1026003. It is what a module records and nginx compares.
func Number(v *version.Version) int {
	s := v.Segments()
	return s[0]*1000000 + s[1]*1000 + s[2]
}

// FromNumber is the inverse of Number: 1022001 is "1.22.1".
func FromNumber(n uint64) string {
	return strconv.FormatUint(n/1000000, 10) + "." +
		strconv.FormatUint(n/1000%1000, 10) + "." +
		strconv.FormatUint(n%1000, 10)
}

// Sort orders versions newest first, in place.
func Sort(vs []*version.Version) {
	sort.Sort(sort.Reverse(version.Collection(vs)))
}
