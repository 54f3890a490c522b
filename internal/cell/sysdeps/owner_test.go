package sysdeps

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// TestOwnerAsksDpkg: the package owning a library a .so links, asked of
// this Debian's dpkg as the build asks it, for the path the loader finds
// (on merged /usr, Debian 12's zlib1g lists /lib/x86_64-linux-gnu/libz.so.1
// only, not its /usr/lib name), and compared with dpkg-query -S by hand.
func TestOwnerAsksDpkg(t *testing.T) {
	testenv.Tool(t, "dpkg-query", "dpkg")
	var lib string
	// The loader's name for it first (the /usr one on merged /usr).
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1"} {
		if _, err := os.Stat(p); err == nil {
			lib = p
			break
		}
	}
	if lib == "" {
		testenv.Missing(t, "zlib's libz.so.1", "apt-get install zlib1g")
	}
	got, err := Owner(context.Background(), Exec, distro.Apt, lib)
	if err != nil {
		t.Fatal(err)
	}
	hand, _ := exec.Command("sh", "-c", "dpkg-query -S '*/libz.so.1' | head -1 | cut -d: -f1").Output()
	if got != strings.TrimSpace(string(hand)) || got != "zlib1g" {
		t.Errorf("Owner(%s) = %q, dpkg-query -S by hand: %q", lib, got, hand)
	}
	if _, err := Owner(context.Background(), Exec, distro.Apt, filepath.Join(t.TempDir(), "libnone.so.1")); err == nil {
		t.Error("a file no package owns has an owner")
	}
}

func TestOwnerName(t *testing.T) {
	for _, c := range []struct {
		f        distro.Family
		out, pkg string
	}{
		{distro.Apt, "libbrotli1:amd64: /usr/lib/x86_64-linux-gnu/libbrotlienc.so.1\n", "libbrotli1"},
		{distro.Apt, "zlib1g: /usr/lib/libz.so.1\n", "zlib1g"},
		{distro.Dnf, "brotli\n", "brotli"},
		{distro.Apk, "brotli-libs-1.1.0-r2\n", "brotli-libs"},
	} {
		if got := ownerName(c.f, c.out); got != c.pkg {
			t.Errorf("ownerName(%s, %q) = %q, want %q", c.f, c.out, got, c.pkg)
		}
	}
}
