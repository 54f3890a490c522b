// Package markdown writes the pieces of GitHub-flavoured Markdown the step
// summaries, release notes and pull requests share, escaped once, here.
package markdown

import (
	"fmt"
	"strings"
)

var cellEscaper = strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ")

// Cell makes text safe inside a table cell: a '|' would end the cell and
// a newline the row.
func Cell(s string) string { return cellEscaper.Replace(s) }

// Table is a table with a header row; every cell is escaped. "" when
// there are no rows.
func Table(header []string, rows [][]string) string {
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	line := func(cells []string) {
		esc := make([]string, len(cells))
		for i, c := range cells {
			esc[i] = Cell(c)
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(esc, " | "))
	}
	line(header)
	b.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range rows {
		line(r)
	}
	return b.String()
}
