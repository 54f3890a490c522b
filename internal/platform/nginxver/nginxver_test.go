package nginxver

import "testing"

func TestLineOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Line
	}{
		{"1.26.3", Stable},
		{"1.27.4", Mainline},
		{"1.30.0", Stable},
		{"1.31.4", Mainline},
		{"1.29.8", Mainline},
		{"0.8.55", Stable},
		{"1.0.0", Stable},
		{"1.1.19", Mainline},
		{"2.0.0", Stable},
	}
	for _, tt := range tests {
		v, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := LineOf(v); got != tt.want {
			t.Errorf("LineOf(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "1.26", "v1.26.3", "1.26.3-rc1", "1.26.3.1", "latest", "1.26.x", " 1.26.3"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) accepted a bad version", in)
		}
	}
}

func TestNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"1.22.1", 1022001},
		{"1.26.3", 1026003},
		{"1.18.0", 1018000},
		{"1.9.15", 1009015},
	}
	for _, tt := range tests {
		v, _ := Parse(tt.in)
		if got := Number(v); got != tt.want {
			t.Errorf("Number(%s) = %d, want %d", tt.in, got, tt.want)
		}
		if got := FromNumber(uint64(tt.want)); got != tt.in {
			t.Errorf("FromNumber(%d) = %s, want %s", tt.want, got, tt.in)
		}
		if got := String(v); got != tt.in {
			t.Errorf("String(%s) = %s", tt.in, got)
		}
	}
}

func TestSortNewestFirst(t *testing.T) {
	t.Parallel()
	var vs = mustAll(t, "1.9.9", "1.31.4", "1.30.4", "1.31.10", "0.1.0")
	Sort(vs)
	var got []string
	for _, v := range vs {
		got = append(got, String(v))
	}
	want := "1.31.10 1.31.4 1.30.4 1.9.9 0.1.0"
	if s := join(got); s != want {
		t.Errorf("Sort = %s, want %s", s, want)
	}
}
