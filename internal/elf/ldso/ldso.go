// Package ldso answers what the dynamic loader would when nginx loads a
// module: which file a library name (DT_NEEDED) is on this host, and which
// symbols a file and the libraries it needs provide. The build cell checks
// a .so against the nginx it was built for and the distro's own nginx
// with it, and check and install against the operator's nginx.
package ldso

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Symbols are the dynamic symbols of one ELF file.
type Symbols struct {
	// Defined are the global and weak symbols it provides.
	Defined map[string]bool
	// Undefined are the global, non-weak symbols it needs: each must
	// resolve when it is loaded (dlopen with RTLD_NOW, as nginx does).
	Undefined []string
	// Needed are its DT_NEEDED library names; RunPath its DT_RUNPATH or
	// DT_RPATH directories.
	Needed, RunPath []string
	// Class and Machine identify the ELF flavour: the loader skips a
	// library of another.
	Class   elf.Class
	Machine elf.Machine
}

// Read reads the dynamic symbols of an ELF file.
func Read(path string) (s Symbols, err error) {
	defer func() {
		// debug/elf has panicked on crafted input before.
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: malformed ELF file (panic: %v)", path, p)
		}
	}()
	f, err := elf.Open(path)
	if err != nil {
		return Symbols{}, err
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil && err != elf.ErrNoSymbols {
		return Symbols{}, err
	}
	s = Symbols{Defined: map[string]bool{}, Class: f.Class, Machine: f.Machine}
	for _, sym := range syms {
		if sym.Name == "" {
			continue
		}
		bind := elf.ST_BIND(sym.Info)
		if sym.Section == elf.SHN_UNDEF {
			if bind == elf.STB_GLOBAL && !slices.Contains(s.Undefined, sym.Name) {
				s.Undefined = append(s.Undefined, sym.Name)
			}
			continue
		}
		if bind == elf.STB_GLOBAL || bind == elf.STB_WEAK {
			s.Defined[sym.Name] = true
		}
	}
	s.Needed, _ = f.ImportedLibraries()
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		if v, err := f.DynString(tag); err == nil {
			for _, e := range v {
				s.RunPath = append(s.RunPath, filepath.SplitList(e)...)
			}
		}
	}
	return s, nil
}

// Loader finds libraries as the dynamic loader does: the object's
// RUNPATH, then the directories of /etc/ld.so.conf, then the default
// ones. It keeps what it read.
type Loader struct {
	// Dirs are searched after an object's RUNPATH.
	Dirs  []string
	files map[string]*Symbols
}

// New is a loader with this host's search directories.
func New() *Loader {
	dirs := confDirs("/etc/ld.so.conf", 0)
	for _, d := range []string{"/lib64", "/usr/lib64", "/lib", "/usr/lib"} {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return &Loader{Dirs: dirs}
}

// confDirs reads an ld.so.conf file and the files it includes.
func confDirs(path string, depth int) []string {
	f, err := os.Open(path)
	if err != nil || depth > 4 {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "include "); ok {
			pattern := strings.TrimSpace(rest)
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				out = append(out, confDirs(m, depth+1)...)
			}
			continue
		}
		if filepath.IsAbs(line) && !slices.Contains(out, line) {
			out = append(out, line)
		}
	}
	return out
}

func (l *Loader) read(path string) *Symbols {
	if l.files == nil {
		l.files = map[string]*Symbols{}
	}
	if s, ok := l.files[path]; ok {
		return s
	}
	s, err := Read(path)
	if err != nil {
		l.files[path] = nil
		return nil
	}
	l.files[path] = &s
	return &s
}

// Find returns the file the loader would use for a library name needed
// by an object of class and machine with runpath, or "".
func (l *Loader) Find(name string, runpath []string, class elf.Class, machine elf.Machine) string {
	if strings.Contains(name, "/") {
		return name
	}
	for _, d := range append(append([]string{}, runpath...), l.Dirs...) {
		p := filepath.Join(d, name)
		if s := l.read(p); s != nil && s.Class == class && s.Machine == machine {
			return p
		}
	}
	return ""
}

// Provided is what the libraries an object needs provide, with every
// library they need in turn (the loader's global scope after it), and the
// names of those it could not find.
func (l *Loader) Provided(obj Symbols) (map[string]bool, []string) {
	out := map[string]bool{}
	var missing []string
	seen := map[string]bool{}
	type item struct {
		name    string
		runpath []string
	}
	var queue []item
	for _, n := range obj.Needed {
		queue = append(queue, item{n, obj.RunPath})
	}
	for len(queue) > 0 && len(seen) < 500 {
		it := queue[0]
		queue = queue[1:]
		if seen[it.name] {
			continue
		}
		seen[it.name] = true
		p := l.Find(it.name, it.runpath, obj.Class, obj.Machine)
		if p == "" {
			missing = append(missing, it.name)
			continue
		}
		s := l.read(p)
		for sym := range s.Defined {
			out[sym] = true
		}
		for _, n := range s.Needed {
			queue = append(queue, item{n, s.RunPath})
		}
	}
	return out, missing
}

// Interpreter is the dynamic loader an ELF program names (PT_INTERP):
// the loader itself defines symbols (__tls_get_addr) that every object
// it loads may use. "" when path is not a dynamically linked program.
func Interpreter(path string) (interp string) {
	defer func() {
		if recover() != nil {
			interp = ""
		}
	}()
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				return strings.TrimRight(string(b), "\x00")
			}
		}
	}
	return ""
}

// scriptPath is a library file named in a linker script (libc.so is
// one: GROUP ( /lib/x86_64-linux-gnu/libc.so.6 ... )).
var scriptPath = regexp.MustCompile(`/[^\s()]+\.so[.0-9]*`)

// Objects are the ELF files a library file stands for when linked: the
// file itself, or the files its linker script names, followed up to
// three scripts deep. None when it is neither.
func Objects(path string) []string {
	return objects(path, 0)
}

func objects(path string, depth int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if bytes.HasPrefix(b, []byte(elf.ELFMAG)) {
		return []string{path}
	}
	if depth > 2 {
		return nil
	}
	var out []string
	for _, q := range scriptPath.FindAllString(string(b), -1) {
		out = append(out, objects(q, depth+1)...)
	}
	return out
}
