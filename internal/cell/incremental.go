package cell

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
)

// keptState is what configure made of a kept tree: enough for a later
// cell with the same key to skip it.
type keptState struct {
	Root      string      `json:"root"`
	Configure []string    `json:"configure"`
	Groups    []keptGroup `json:"groups"`
}

type keptGroup struct {
	Builddir string            `json:"builddir"`
	Modules  []int             `json:"modules"` // positions in Options.Modules
	Wrappers []string          `json:"wrappers"`
	Record   map[int]*declared `json:"record"`
	Makefile Makefile          `json:"makefile"`
}

const (
	keptStateFile = "nginx-modbuild-cell.json"
	// keptSumsFile lists every file of a kept tree with its SHA-256, as
	// the last build left it: a tree changed since (an object planted in
	// a restored cache) is not reused.
	keptSumsFile = "nginx-modbuild-cell.sha256"
)

// treeSums is the SHA-256 of every file under dir (a symlink's target),
// one "SUM  PATH" line each in path order, but the kept tree's own
// records.
func treeSums(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir() || rel == keptStateFile || rel == keptSumsFile:
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "link:%s  %s\n", t, rel)
			return nil
		case !d.Type().IsRegular():
			fmt.Fprintf(&b, "special  %s\n", rel)
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%x  %s\n", h.Sum(nil), rel)
		return nil
	})
	return b.String(), err
}

// seal records the kept tree's files as this build leaves them.
func (b *builder) seal() {
	if b.o.Incremental == "" || b.tree == b.o.WorkDir {
		return
	}
	if _, err := os.Stat(filepath.Join(b.tree, keptStateFile)); err != nil {
		return // not kept
	}
	sums, err := treeSums(b.tree)
	if err == nil {
		err = atomicfile.Write(filepath.Join(b.tree, keptSumsFile), []byte(sums), 0o644)
	}
	if err != nil {
		os.Remove(filepath.Join(b.tree, keptStateFile)) // unsealed: never reused
		b.o.Log.Printf("incremental: not kept: %v", err)
	}
}

// unchanged compares a kept tree with its sums: the first path (in
// order) that differs, was added or is gone; "" when none.
func unchanged(dir string) (string, error) {
	want, err := os.ReadFile(filepath.Join(dir, keptSumsFile))
	if err != nil {
		return "", fmt.Errorf("no record of its files (%w)", err)
	}
	got, err := treeSums(dir)
	if err != nil {
		return "", err
	}
	index := func(text string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			if sum, path, ok := strings.Cut(l, "  "); ok {
				m[path] = sum
			}
		}
		return m
	}
	w, g := index(string(want)), index(got)
	var differ []string
	for p, sum := range g {
		if w[p] != sum {
			differ = append(differ, p)
		}
	}
	for p := range w {
		if _, ok := g[p]; !ok {
			differ = append(differ, p)
		}
	}
	if len(differ) == 0 {
		return "", nil
	}
	slices.Sort(differ)
	return differ[0], nil
}

// incrementalKey hashes everything configure reads: the nginx source and
// version, the configure arguments, each module's directory, env, libs,
// requirements and every file of it but its C sources (its config,
// sourced sub-configs, config.make, headers), the distro, arch, compiler
// and the installed packages. Left out, as configure does not read them:
// tests (t/), hidden directories (.git, .github, a cache directory such as
// .nginx-modbuild-cache in the module's own repository) and this build's
// output and cache directories.
func (b *builder) incrementalKey(mods []prepared, sourceSHA string) (string, error) {
	h := sha256.New()
	state := ""
	if b.o.PackageState != nil {
		state = b.o.PackageState()
	}
	fmt.Fprintf(h, "nginx-modbuild incremental 1\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%v\x00%q\n",
		b.o.Nginx, sourceSHA, b.o.Distro, b.o.Arch, b.o.Compiler.Version, b.o.Compiler.Loader, state, b.o.NoCompat, b.configureExtra())
	for _, m := range mods {
		env := make([]string, 0, len(m.Env))
		for k, v := range m.Env {
			env = append(env, k+"="+v)
		}
		slices.Sort(env)
		fmt.Fprintf(h, "module %d %s %s %q %q %q\n", m.index, m.ID, m.Dir, env, m.Libs, m.Requires)
		err := filepath.WalkDir(m.Dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(m.Dir, p)
			if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "t" || d.Name() == "servroot" ||
				p == b.o.Out || p == filepath.Dir(b.o.Incremental) || p == b.o.WorkDir) {
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() || cSource(p) {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			fmt.Fprintf(h, "file %s\n", rel)
			_, err = io.Copy(h, f)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("read %s: %w", m.Dir, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cSource is a file make compiles, which configure does not read.
func cSource(p string) bool {
	switch filepath.Ext(p) {
	case ".c", ".cc", ".cpp":
		return true
	}
	return false
}

// warm finds the kept tree for this cell's inputs. When one is there it
// is the cell's tree, with configure's groups; otherwise the cell builds
// from clean in a fresh kept directory (older trees of the same nginx,
// distro and arch removed), kept for the next cell by keep. The cell
// holds the directory's lock until unlock.
func (b *builder) warm(mods []prepared, sourceSHA string) (warm bool, root string, groups []group, unlock func(), err error) {
	unlock = func() {}
	key, err := b.incrementalKey(mods, sourceSHA)
	if err != nil {
		return false, "", nil, unlock, err
	}
	prefix := fmt.Sprintf("%s-%s-%s-", b.o.Nginx, b.o.Distro, b.o.Arch)
	// configure runs in the nginx tree: every path it is given is absolute.
	base, err := filepath.Abs(b.o.Incremental)
	if err != nil {
		return false, "", nil, unlock, err
	}
	dir := filepath.Join(base, prefix+key[:16])
	if err := os.MkdirAll(base, 0o755); err != nil {
		return false, "", nil, unlock, err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, "", nil, unlock, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return false, "", nil, unlock, err
	}
	unlock = func() { syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); lock.Close() }
	if st, err := readKept(dir); err == nil {
		if changed, err := unchanged(dir); err != nil || changed != "" {
			why := fmt.Sprintf("%s differs from what the last build left", changed)
			if err != nil {
				why = err.Error()
			}
			b.o.Log.Printf("incremental: the kept tree %s is not reused: %s", filepath.Base(dir), why)
		} else if groups, ok := b.restore(st, mods); ok {
			b.tree, b.c.Configure = dir, st.Configure
			b.o.Log.Printf("incremental: the tree configured for these inputs is kept (%s): configure skipped, make rebuilds what changed", filepath.Base(dir))
			return true, st.Root, groups, unlock, nil
		}
	}
	b.o.Log.Printf("incremental: no kept tree for these inputs (%s): building from clean, kept for the next check", filepath.Base(dir))
	old, _ := filepath.Glob(filepath.Join(base, prefix+"*"))
	for _, o := range old {
		if o != dir+".lock" {
			os.RemoveAll(o)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, "", nil, unlock, err
	}
	b.tree = dir
	return false, "", nil, unlock, nil
}

func readKept(dir string) (keptState, error) {
	var st keptState
	data, err := os.ReadFile(filepath.Join(dir, keptStateFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, err
	}
	if _, err := os.Stat(st.Root); err != nil {
		return st, err
	}
	if len(st.Groups) == 0 {
		return st, errors.New("no groups")
	}
	return st, nil
}

// restore makes configure's groups again from a kept state, with the
// modules read for this cell.
func (b *builder) restore(st keptState, mods []prepared) ([]group, bool) {
	var groups []group
	for _, kg := range st.Groups {
		g := group{builddir: kg.Builddir, wrappers: kg.Wrappers, record: kg.Record, makefile: kg.Makefile}
		for _, i := range kg.Modules {
			k := slices.IndexFunc(mods, func(m prepared) bool { return m.index == i })
			if k < 0 {
				return nil, false
			}
			g.mods = append(g.mods, mods[k])
		}
		groups = append(groups, g)
	}
	return groups, true
}

// keep records a clean cell's configure in its kept tree, when configure
// dropped no module (a tree missing one would not serve its next check).
func (b *builder) keep(root string, groups []group) {
	if b.o.Incremental == "" || b.tree == b.o.WorkDir || len(b.failed) > 0 || len(groups) == 0 {
		return
	}
	st := keptState{Root: root, Configure: b.c.Configure}
	for _, g := range groups {
		kg := keptGroup{Builddir: g.builddir, Wrappers: g.wrappers, Record: g.record, Makefile: g.makefile}
		for _, m := range g.mods {
			kg.Modules = append(kg.Modules, m.index)
		}
		st.Groups = append(st.Groups, kg)
	}
	data, err := json.Marshal(st)
	if err == nil {
		err = atomicfile.Write(filepath.Join(b.tree, keptStateFile), data, 0o644)
	}
	if err != nil {
		b.o.Log.Printf("incremental: not kept: %v", err)
	}
}
