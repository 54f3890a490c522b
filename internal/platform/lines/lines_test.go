package lines

import "testing"

func TestLastFirst(t *testing.T) {
	out := "checking for OS\n + Linux\n./configure: error: the HTTP rewrite module requires the PCRE library.\n\n"
	if got := Last(out, 1); got != "./configure: error: the HTTP rewrite module requires the PCRE library." {
		t.Errorf("Last 1 = %q", got)
	}
	if got := Last(out, 10); got != "checking for OS\n + Linux\n./configure: error: the HTTP rewrite module requires the PCRE library." {
		t.Errorf("Last 10 = %q", got)
	}
	if got := First("\n  make: *** [objs/Makefile:9] Error 1\nmore\n"); got != "make: *** [objs/Makefile:9] Error 1" {
		t.Errorf("First = %q", got)
	}
}
