package ldso

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func TestConfDirsFollowIncludes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "ld.so.conf"), []byte("# comment\ninclude conf.d/*.conf\n/opt/lib # trailing\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "a.conf"), []byte("/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "b.conf"), []byte("include "+filepath.Join(dir, "ld.so.conf")+"\n"), 0o644)
	got := confDirs(filepath.Join(dir, "ld.so.conf"), 0)
	want := []string{"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/opt/lib"}
	if diff := cmp.Diff(want, dedupe(got)); diff != "" {
		t.Errorf("dirs (-want +got):\n%s", diff)
	}
}

func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestDebianNginx reads Debian's nginx as the loader would: its libraries
// provide PCRE2 (what it is built with) and libc, not the PCRE1 API a
// module such as subs-filter 0.6.4 calls.
func TestDebianNginx(t *testing.T) {
	t.Parallel()
	bin := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	s, err := Read(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Needed) == 0 || s.Class != elf.ELFCLASS64 {
		t.Fatalf("Read(%s) = %+v", bin, s)
	}
	l := New()
	if l.Find("libc.so.6", nil, s.Class, s.Machine) == "" {
		t.Fatalf("libc.so.6 not found in %v", l.Dirs)
	}
	provided, missing := l.Provided(s)
	if len(missing) != 0 {
		t.Errorf("libraries not found: %v", missing)
	}
	for _, sym := range []string{"pcre2_match_8", "malloc", "SSL_CTX_new"} {
		if !provided[sym] {
			t.Errorf("%s is not provided by nginx's libraries", sym)
		}
	}
	if provided["pcre_fullinfo"] {
		t.Error("pcre_fullinfo is provided: Debian 12's nginx links no libpcre.so.3")
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("reading a missing file gave no error")
	}
}

// TestObjectsFollowLinkerScripts: Debian's libc.so is a linker script
// naming libc.so.6 and more; the ELF files it stands for are found.
func TestObjectsFollowLinkerScripts(t *testing.T) {
	t.Parallel()
	script := "/usr/lib/x86_64-linux-gnu/libc.so"
	if _, err := os.Stat(script); err != nil {
		testenv.Missing(t, script, "libc6-dev")
	}
	got := Objects(script)
	found := false
	for _, f := range got {
		found = found || strings.HasSuffix(f, "/libc.so.6")
	}
	if !found {
		t.Errorf("Objects(%s) = %v: no libc.so.6", script, got)
	}
	if got := Objects("/etc/hostname"); got != nil {
		t.Errorf("a text file that names no library: %v", got)
	}
	nginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	if got := Interpreter(nginx); !strings.Contains(got, "ld-linux") {
		t.Errorf("nginx's interpreter = %q", got)
	}
	if got := Interpreter(script); got != "" {
		t.Errorf("a linker script has an interpreter: %q", got)
	}
}
