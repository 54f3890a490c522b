package bump

import (
	"bytes"
	"fmt"
	"strings"
)

// Diff is a unified diff of a file whose lines were edited in place (a
// version replaced; the number of lines never changes), with three lines
// of context, as git diff prints it.
func Diff(p string, old, new []byte) string {
	a, b := splitLines(old), splitLines(new)
	if len(a) != len(b) {
		return fmt.Sprintf("--- a/%s\n+++ b/%s\n(line count changed)\n", p, p)
	}
	var changed []int
	for i := range a {
		if a[i] != b[i] {
			changed = append(changed, i)
		}
	}
	if len(changed) == 0 {
		return ""
	}
	const ctx = 3
	var out strings.Builder
	fmt.Fprintf(&out, "--- a/%s\n+++ b/%s\n", p, p)
	for i := 0; i < len(changed); {
		lo := max(changed[i]-ctx, 0)
		j := i
		for j+1 < len(changed) && changed[j+1]-changed[j] <= 2*ctx {
			j++
		}
		hi := min(changed[j]+ctx, len(a)-1)
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", lo+1, hi-lo+1, lo+1, hi-lo+1)
		for k := lo; k <= hi; k++ {
			if a[k] == b[k] {
				writeLine(&out, " ", a[k], k == len(a)-1, old)
				continue
			}
			writeLine(&out, "-", a[k], k == len(a)-1, old)
			writeLine(&out, "+", b[k], k == len(b)-1, new)
		}
		i = j + 1
	}
	return out.String()
}

func splitLines(data []byte) []string {
	s := string(data)
	s = strings.TrimSuffix(s, "\n")
	if s == "" && len(data) == 0 {
		return nil
	}
	return strings.Split(s, "\n")
}

func writeLine(out *strings.Builder, sign, line string, last bool, data []byte) {
	out.WriteString(sign + strings.TrimSuffix(line, "\r") + "\n")
	if last && !bytes.HasSuffix(data, []byte("\n")) {
		out.WriteString("\\ No newline at end of file\n")
	}
}
