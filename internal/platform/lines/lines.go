// Package lines cuts what a program printed down to what a message
// shows: its last lines (where compilers, configure and apt put the
// error), or its first.
package lines

import "strings"

// Last is the last n lines of s, without the trailing newline.
func Last(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// First is the first line of s, spaces around it trimmed.
func First(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
