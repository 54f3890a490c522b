package like

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func TestWords(t *testing.T) {
	t.Parallel()
	got, err := Words(`--with-cc-opt='-g -O2 -fstack-protector-strong' --prefix=/usr/share/nginx --with-compat  --with-ld-opt="-Wl,-z,relro -Wl,-z,now"`)
	want := []string{"--with-cc-opt=-g -O2 -fstack-protector-strong", "--prefix=/usr/share/nginx", "--with-compat", "--with-ld-opt=-Wl,-z,relro -Wl,-z,now"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Words = %q, %v", got, err)
	}
	if _, err := Words(`--with-cc-opt='-g`); err == nil {
		t.Error("an unterminated quote was accepted")
	}
}

// TestDebiansNginx reads Debian's nginx, and its arguments equal what
// nginx -V prints, word for word (with the shell's quoting), but the
// dynamic modules' paths and the --with-compat the cell adds itself.
func TestDebiansNginx(t *testing.T) {
	t.Parallel()
	nginx := testenv.Tool(t, "/usr/sbin/nginx", "nginx")
	tg, err := Read(nginx)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(nginx, "-V").CombinedOutput()
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(l, "configure arguments: "); ok {
			line = s
		}
	}
	// The shell's own reading of the line (set -- LINE) is the oracle.
	shell, err := exec.Command("sh", "-c", "set -- "+line+`; for a; do printf '%s\n' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Split(strings.TrimSuffix(string(shell), "\n"), "\n"); !slices.Equal(tg.Configure, want) {
		t.Errorf("configure words:\n%q\nsh:\n%q", tg.Configure, want)
	}
	if tg.Product != "nginx" || tg.Fork() || !tg.Compat() || tg.Signature == "" || tg.Nginx == "" {
		t.Errorf("%+v", tg)
	}
	args, dropped := tg.Args()
	if slices.Contains(args, "--with-compat") || slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--add-") }) {
		t.Errorf("args %q", args)
	}
	if !slices.Contains(args, "--with-debug") || !slices.Contains(args, "--with-threads") {
		t.Errorf("Debian's nginx is --with-debug --with-threads: args %q", args)
	}
	t.Logf("%d arguments kept, %d dropped: %q", len(args), len(dropped), dropped)
}
