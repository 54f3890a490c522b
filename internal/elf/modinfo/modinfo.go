// Package modinfo reads what nginx checks when it loads a dynamic module,
// from the files alone: the ngx_module_t records of a module .so (name,
// nginx_version, signature) and the version, signature, built-in modules and
// configure arguments of an nginx executable. It uses debug/elf only: no
// loading, no cgo. Pointers in the data are followed through the dynamic
// relocations (RELA, REL and RELR; x86-64, AArch64, i386, Arm, RISC-V,
// POWER and s390x), for 64- and 32-bit files of either byte order.
package modinfo

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// Kind says what a file is.
type Kind string

const (
	// KindModule is a dynamic module (.so) for load_module.
	KindModule Kind = "module"
	// KindExecutable is an nginx binary.
	KindExecutable Kind = "executable"
)

// Module is one ngx_module_t record.
type Module struct {
	Name string `json:"name"`
	// Version is the nginx_version the module was compiled against, as
	// nginx compares it (1022001 for 1.22.1).
	Version uint64 `json:"version"`
	// Signature is NGX_MODULE_SIGNATURE as compiled in.
	Signature string `json:"signature"`
}

// Nginx is the nginx version Version stands for, e.g. "1.22.1".
func (m Module) Nginx() string { return nginxver.FromNumber(m.Version) }

// File is what one file says about itself.
type File struct {
	Kind    Kind   `json:"kind"`
	Machine string `json:"machine"`
	Bits    int    `json:"bits"`
	// PIE is set for a position-independent executable.
	PIE bool `json:"pie,omitempty"`
	// Modules are the records in ngx_modules, in order: the modules a .so
	// adds, or an executable's built-in modules.
	Modules []Module `json:"modules"`
	// Order is a module's ngx_module_order list, when it has one.
	Order []string `json:"order,omitempty"`
	// Executables only: the nginx version and signature every built-in
	// module carries, and the configure arguments compiled in.
	Version   uint64 `json:"version,omitempty"`
	Signature string `json:"signature,omitempty"`
	Configure string `json:"configure,omitempty"`
	// Exports are the dynamic symbols the file defines; Imports those it
	// needs from elsewhere (not weak), in the order the dynamic linker
	// resolves them.
	Exports []string `json:"-"`
	Imports []string `json:"-"`
}

// Nginx is an executable's nginx version, e.g. "1.22.1".
func (f *File) Nginx() string { return nginxver.FromNumber(f.Version) }

// ErrNotELF says a file is not an ELF file at all.
var ErrNotELF = errors.New("not an ELF file")

// ErrNotModule says a file is ELF but holds no nginx module records.
var ErrNotModule = errors.New("not an nginx module: no ngx_modules symbol")

// maxFile bounds how much of a file is read into memory at once.
const maxFile = 256 << 20

// Open reads the file at path.
func Open(path string) (*File, error) {
	f, err := userfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	// Read with pread: only the headers, the dynamic symbols and
	// relocations and a few records are touched, a small part of the file.
	info, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// Read reads a module or executable. Any malformed input gives an error.
func Read(r io.ReaderAt) (info *File, err error) {
	defer func() {
		// debug/elf has panicked on crafted input before; a file that
		// makes it do so is reported, not fatal.
		if p := recover(); p != nil {
			info, err = nil, fmt.Errorf("malformed ELF file (panic: %v)", p)
		}
	}()
	var magic [4]byte
	if n, _ := r.ReadAt(magic[:], 0); n < 4 || string(magic[:]) != elf.ELFMAG {
		return nil, ErrNotELF
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("not a readable ELF file: %w", err)
	}
	im, err := newImage(ef, r)
	if err != nil {
		return nil, err
	}
	info = &File{Machine: machineName(ef.Machine), Bits: im.ptr * 8, Kind: KindModule}
	if ef.Type == elf.ET_EXEC || hasInterp(ef) {
		info.Kind = KindExecutable
	}
	info.PIE = info.Kind == KindExecutable && ef.Type == elf.ET_DYN
	for _, s := range im.syms {
		if s.Section != elf.SHN_UNDEF && s.Name != "" && elf.ST_BIND(s.Info) != elf.STB_LOCAL {
			info.Exports = append(info.Exports, s.Name)
		}
	}
	info.Imports = im.imports

	mods, names := im.sym("ngx_modules"), im.sym("ngx_module_names")
	if mods == nil || names == nil {
		if info.Kind == KindExecutable {
			return info, im.scanExecutable(info)
		}
		return nil, ErrNotModule
	}
	if info.Modules, err = im.modules(mods, names); err != nil {
		return nil, err
	}
	if len(info.Modules) == 0 {
		return nil, errors.New("not an nginx module: ngx_modules is empty")
	}
	if order := im.sym("ngx_module_order"); order != nil {
		if info.Order, err = im.stringArray(order); err != nil {
			return nil, fmt.Errorf("ngx_module_order: %w", err)
		}
	}
	if info.Kind == KindExecutable {
		// Every built-in module carries the binary's version and
		// signature; ngx_core_module comes first.
		info.Version, info.Signature = info.Modules[0].Version, info.Modules[0].Signature
		info.Configure = im.configure()
	}
	return info, nil
}

func hasInterp(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// modules follows ngx_modules[i] to each ngx_module_t and ngx_module_names[i]
// to its name, up to the NULL that ends the array.
func (im *image) modules(mods, names *elf.Symbol) ([]Module, error) {
	n := int(mods.Size) / im.ptr
	if mods.Size == 0 || n > 4096 {
		n = 4096
	}
	var out []Module
	for i := 0; i < n; i++ {
		p, err := im.pointer(mods.Value + uint64(i*im.ptr))
		if err != nil {
			return nil, fmt.Errorf("ngx_modules[%d]: %w", i, err)
		}
		if p == 0 {
			return out, nil
		}
		np, err := im.pointer(names.Value + uint64(i*im.ptr))
		if err != nil {
			return nil, fmt.Errorf("ngx_module_names[%d]: %w", i, err)
		}
		name, err := im.cstring(np)
		if err != nil {
			return nil, fmt.Errorf("ngx_module_names[%d]: %w", i, err)
		}
		m, err := im.module(p)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", name, err)
		}
		m.Name = name
		out = append(out, m)
	}
	return nil, errors.New("ngx_modules has no terminating NULL")
}

// module reads the ngx_module_t at addr: ctx_index, index, name, spare0,
// spare1, version, signature (src/core/ngx_module.h).
func (im *image) module(addr uint64) (Module, error) {
	w := uint64(im.ptr)
	b, err := im.read(addr+5*w, im.ptr)
	if err != nil {
		return Module{}, fmt.Errorf("version: %w", err)
	}
	var m Module
	m.Version = im.word(b)
	sp, err := im.pointer(addr + 6*w)
	if err != nil {
		return Module{}, fmt.Errorf("signature: %w", err)
	}
	if m.Signature, err = im.cstring(sp); err != nil {
		return Module{}, fmt.Errorf("signature: %w", err)
	}
	return m, nil
}

// stringArray reads a NULL-terminated array of string pointers.
func (im *image) stringArray(s *elf.Symbol) ([]string, error) {
	var out []string
	for i := 0; i < 4096; i++ {
		p, err := im.pointer(s.Value + uint64(i*im.ptr))
		if err != nil {
			return nil, err
		}
		if p == 0 {
			return out, nil
		}
		str, err := im.cstring(p)
		if err != nil {
			return nil, err
		}
		out = append(out, str)
	}
	return nil, errors.New("no terminating NULL")
}

var (
	verRE  = regexp.MustCompile(`nginx version: nginx/([0-9]+\.[0-9]+\.[0-9]+)`)
	verRE2 = regexp.MustCompile(`nginx/([0-9]+\.[0-9]+\.[0-9]+)\x00`)
	sigRE  = regexp.MustCompile(`\x00([0-9]{1,2},[0-9]{1,2},[0-9]{1,2},[01]{20,64})\x00`)
	confRE = regexp.MustCompile(`configure arguments:([^\x00\n]*)`)
)

// scanExecutable finds version, signature and configure arguments in an
// executable that exports no symbols (a static or fully stripped nginx) by
// their strings.
func (im *image) scanExecutable(info *File) error {
	data := im.rodata()
	m := verRE.FindSubmatch(data)
	if m == nil {
		m = verRE2.FindSubmatch(data)
	}
	if m == nil {
		return errors.New("not an nginx executable: no nginx version string")
	}
	v, err := nginxver.Parse(string(m[1]))
	if err != nil {
		return fmt.Errorf("nginx version %q: %w", m[1], err)
	}
	info.Version = uint64(nginxver.Number(v))
	if s := sigRE.FindSubmatch(data); s != nil {
		info.Signature = string(s[1])
	}
	if c := confRE.FindSubmatch(data); c != nil {
		info.Configure = strings.TrimSpace(string(c[1]))
	}
	return nil
}

func (im *image) configure() string {
	if c := confRE.FindSubmatch(im.rodata()); c != nil {
		return strings.TrimSpace(string(c[1]))
	}
	return ""
}

// rodata is the read-only data the strings live in (the whole file when
// there is no section table).
func (im *image) rodata() []byte {
	if s := im.f.Section(".rodata"); s != nil {
		if b, err := s.Data(); err == nil {
			return b
		}
	}
	var all []byte
	for _, p := range im.f.Progs {
		if p.Type == elf.PT_LOAD && len(all) < maxFile {
			// ReadAll stops at the end of the real file, whatever size
			// the header claims.
			b, _ := io.ReadAll(io.LimitReader(p.Open(), int64(maxFile-len(all))))
			all = append(all, b...)
		}
	}
	return all
}

func machineName(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86-64"
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_386:
		return "i386"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		return "riscv"
	case elf.EM_PPC64:
		return "ppc64"
	case elf.EM_S390:
		return "s390x"
	}
	return strings.TrimPrefix(strings.ToLower(m.String()), "em_")
}

// word decodes a pointer-sized little- or big-endian value.
func (im *image) word(b []byte) uint64 {
	if im.ptr == 4 {
		return uint64(im.order.Uint32(b))
	}
	return im.order.Uint64(b)
}
