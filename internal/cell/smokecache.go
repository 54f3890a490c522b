package cell

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// smokeKeyOf is what the smoke nginx binary is built from, read from what
// configure generated rather than predicted: the compiler, the nginx
// sources, the distro and arch, the compile and link flags, the binary's
// make rule (its objects and libraries), and the generated headers and
// static module list, with the build's own paths and the configure
// command line (which names the dynamic modules, not part of the binary)
// left out. Dynamic modules that switch on a feature (USE_OPENSSL, a
// define) change those files, and so the key.
func smokeKeyOf(root, builddir string, c manifest.Cell) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "nginx %s\nsource %s\ncompiler %s\ndistro %s\narch %s\n", c.Nginx, c.SourceSHA256, c.Compiler, c.Distro, c.Arch)
	norm := func(b []byte) []byte {
		b = bytes.ReplaceAll(b, []byte(builddir), []byte("$BUILDDIR"))
		return bytes.ReplaceAll(b, []byte(root), []byte("$ROOT"))
	}
	mk, err := userfile.Read(filepath.Join(builddir, "Makefile"), 16<<20)
	if err != nil {
		return "", err
	}
	rel, _ := filepath.Rel(root, builddir)
	target := []byte(rel + "/nginx:")
	var rule bool
	sc := bufio.NewScanner(bytes.NewReader(mk))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	found := false
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, target), bytes.HasPrefix(line, []byte(builddir+"/nginx:")):
			rule, found = true, true
		case len(bytes.TrimSpace(line)) == 0:
			rule = false
		}
		for _, v := range []string{"CC =", "CFLAGS =", "CPP =", "LINK ="} {
			if bytes.HasPrefix(line, []byte(v)) {
				h.Write(norm(line))
				h.Write([]byte("\n"))
			}
		}
		if rule {
			h.Write(norm(line))
			h.Write([]byte("\n"))
		}
	}
	if !found {
		return "", fmt.Errorf("no %s/nginx rule in %s/Makefile", rel, rel)
	}
	for _, f := range []string{"ngx_auto_config.h", "ngx_auto_headers.h", "ngx_modules.c"} {
		b, err := userfile.Read(filepath.Join(builddir, f), 16<<20)
		if err != nil {
			return "", err
		}
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.Contains(l, "NGX_CONFIGURE") {
				keep = append(keep, l)
			}
		}
		fmt.Fprintf(h, "== %s\n", f)
		h.Write(norm([]byte(strings.Join(keep, "\n"))))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// restoreSmoke puts the cached binary for key in builddir when it is
// what was stored there: its SHA-256 is the one kept beside it, and it is
// an nginx executable of version nginx. Anything else (a cache restored
// from elsewhere, a file replaced: the binary runs as the build's user)
// is refused, said in why, and the binary is built again.
func restoreSmoke(cache, key, builddir, nginx string) (ok bool, why string) {
	dir := filepath.Join(cache, key)
	b, err := userfile.Read(filepath.Join(dir, "nginx"), 256<<20)
	if err != nil {
		return false, ""
	}
	want, err := userfile.Read(filepath.Join(dir, "nginx.sha256"), 1<<10)
	sum := sha256.Sum256(b)
	if err != nil || strings.TrimSpace(string(want)) != hex.EncodeToString(sum[:]) {
		return false, fmt.Sprintf("%s/nginx does not have the SHA-256 stored with it", dir)
	}
	f, err := modinfo.Read(bytes.NewReader(b))
	if err != nil || f.Kind != modinfo.KindExecutable || f.Nginx() != nginx {
		return false, fmt.Sprintf("%s/nginx is not an nginx %s executable", dir, nginx)
	}
	return atomicfile.Write(filepath.Join(builddir, "nginx"), b, 0o755) == nil, ""
}

// storeSmoke keeps the binary make built in builddir under key, with its
// SHA-256.
func storeSmoke(cache, key, builddir string) error {
	b, err := userfile.Read(filepath.Join(builddir, "nginx"), 256<<20)
	if err != nil {
		return err // no binary built: nothing to keep
	}
	dir := filepath.Join(cache, key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	if err := atomicfile.Write(filepath.Join(dir, "nginx"), b, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "nginx.sha256"), []byte(hex.EncodeToString(sum[:])+"\n"), 0o644)
}
