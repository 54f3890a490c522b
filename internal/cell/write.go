package cell

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modenv"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/safename"
)

// progress prints, every 10 s while make runs outside Actions (where the
// log group shows make is running), how many objects it has compiled
// under builddir; the returned function stops it.
func (b *builder) progress(builddir string) func() {
	if b.o.Log.Actions {
		return func() {}
	}
	start, done, stopped := time.Now(), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n := 0
				filepath.WalkDir(builddir, func(_ string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".o") {
						n++
					}
					return nil
				})
				b.o.Log.Printf("    make: %.0f s, %d objects compiled", time.Since(start).Seconds(), n)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// removeStale removes, from the output directory, the version-named .so
// of each module that failed in this cell, left by an earlier build: no
// manifest of this cell names it, and beside the good ones it would pass
// for this build's.
func (b *builder) removeStale() {
	for _, f := range b.failed {
		if safename.Check("module", f.Module) != nil {
			continue
		}
		p := filepath.Join(b.o.Out, manifest.FileName(f.Module, b.o.Nginx))
		if err := os.Remove(p); err == nil {
			b.o.Log.Printf("removed %s: left by an earlier build; %s failed in this one", filepath.Base(p), f.Module)
		}
	}
}

// write copies each good .so under its version-named file, in load
// order, with its manifest entry.
func (b *builder) write(sos []*linked) error {
	if err := os.MkdirAll(b.o.Out, 0o755); err != nil {
		return err
	}
	b.removeStale()
	// A module with release: false is not written, unless a released
	// one needs it loaded first (its symbols): then nothing would load.
	needed := map[*linked]bool{}
	for _, s := range sos {
		if m, _ := b.moduleOf(s); !m.NoRelease {
			for _, r := range s.requires {
				needed[r] = true
			}
		}
	}
	for _, s := range sos {
		if s.owner < 0 {
			// nginx's own module (stream, as a .so for the modules that
			// need it): the checks and tests loaded it; the target has its
			// own (Debian's libnginx-mod-stream), and a second copy would
			// be "already loaded" there.
			b.o.Log.Printf("%s: nginx's own module, built for the checks: not written (the target nginx must have it)", s.so.Name())
			continue
		}
		if m, _ := b.moduleOf(s); m.NoRelease && !needed[s] {
			b.o.Log.Printf("%s: built for the checks and tests only (release: false), not written", s.so.Name())
			continue
		} else if m.NoRelease {
			b.o.Log.Printf("%s: release: false, but a released module needs it loaded first: written", s.so.Name())
		}
		data, err := os.ReadFile(s.file)
		if err != nil {
			return err
		}
		name := manifest.FileName(s.so.Name(), b.o.Nginx)
		dst := filepath.Join(b.o.Out, name)
		if err := atomicfile.Write(dst, data, 0o755); err != nil {
			return err
		}
		m, _ := b.moduleOf(s)
		var requires, own []string
		for _, o := range s.requires {
			if o.owner < 0 {
				own = append(own, o.so.Name())
			} else {
				requires = append(requires, o.so.Name())
			}
		}
		sum := sha256.Sum256(data)
		info, err := modinfo.Read(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("read the module built as %s: %w", name, err)
		}
		sig := info.Signature // an executable's; a module file's are its modules'
		if len(info.Modules) > 0 {
			sig = info.Modules[0].Signature
		}
		b.entries = append(b.entries, manifest.Entry{
			Module: s.so.Name(), Source: m.ID, Commit: m.Commit, Identity: m.Identity, Nginx: b.o.Nginx, Plus: b.o.Plus,
			Distro: b.o.Distro, Arch: b.o.Arch, File: name, SHA256: hex.EncodeToString(sum[:]),
			Signature: sig, Target: b.o.TargetSHA256, BuiltAt: b.o.Now().UTC().Format(time.RFC3339), Requires: requires,
			NginxModules: own, Libraries: ownLibraries(s.syms.Needed), Runtime: b.runtimeOf(s),
		})
		b.files = append(b.files, dst)
		b.o.Log.Printf("built %s", name)
	}
	return nil
}

// runtimeOf are the packages owning the libraries s links, asked of the
// build system's package manager (dpkg -S, rpm -qf, apk --who-owns),
// sorted; a library no package owns (built by hand into /usr/local) is
// said in the log, and the host must bring it some other way.
func (b *builder) runtimeOf(s *linked) []string {
	if b.o.Family == "" {
		return nil
	}
	var out []string
	for _, f := range s.needed {
		if libcPart(filepath.Base(f)) {
			continue
		}
		pkg, err := sysdeps.Owner(context.Background(), sysdeps.Exec, b.o.Family, f)
		if err != nil {
			b.o.Log.Printf("%s links %s, which no package owns here (%v): a host needs it from elsewhere", s.so.Name(), f, err)
			continue
		}
		if !slices.Contains(out, pkg) {
			out = append(out, pkg)
		}
	}
	slices.Sort(out)
	if len(out) > 0 {
		b.o.Log.Printf("%s: its libraries come from %s (the package depends on them)", s.so.Name(), strings.Join(out, ", "))
	}
	return out
}

// libcPart says a soname is the C library's own (libc, libm, libdl,
// libpthread, librt, the dynamic loader; glibc's or musl's): there
// wherever nginx runs, so neither recorded nor depended on.
func libcPart(soname string) bool {
	for _, p := range []string{"libc.so.", "libm.so.", "libdl.so.", "libpthread.so.", "librt.so.", "ld-linux", "ld-musl", "libc.musl"} {
		if strings.HasPrefix(soname, p) {
			return true
		}
	}
	return false
}

// ownLibraries are the sonames a .so links beyond the C library.
func ownLibraries(needed []string) []string {
	var out []string
	for _, n := range needed {
		if !libcPart(n) {
			out = append(out, n)
		}
	}
	return out
}

// run runs argv in dir and returns its combined output. argv runs module
// code (configure sources each module's config, make its rules, nginx
// loads its .so), so it gets the allowlisted environment only: no token,
// key or Actions request token, whatever the tool itself was started with.
func run(ctx context.Context, dir string, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = modenv.Env(os.Getenv)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return out.String(), err
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}
