package markdown

import "testing"

func TestTable(t *testing.T) {
	t.Parallel()
	got := Table([]string{"cell", "reason"}, [][]string{{"nginx 1.26.3 debian-12/amd64", "a|b\nc"}})
	want := "| cell | reason |\n|---|---|\n| nginx 1.26.3 debian-12/amd64 | a\\|b c |\n"
	if got != want {
		t.Errorf("Table = %q, want %q", got, want)
	}
	if Table([]string{"x"}, nil) != "" {
		t.Error("a table without rows is not empty")
	}
}
