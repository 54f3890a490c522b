package modinfo

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// image is a file's loaded view: memory as the PT_LOAD segments lay it out,
// with the dynamic relocations that fill in pointers applied (load base 0).
type image struct {
	f     *elf.File
	order binary.ByteOrder
	ptr   int
	loads []*elf.Prog
	syms  []elf.Symbol
	r     io.ReaderAt
	pages map[uint64][]byte
	// relocs maps a pointer slot's address to the value the dynamic
	// linker stores there.
	relocs map[uint64]uint64
	// imports are the undefined, non-weak symbols in the order the
	// relocations refer to them, which is the order the dynamic linker
	// resolves them in.
	imports []string
	seen    map[string]bool
}

func (im *image) noteImport(s elf.Symbol) {
	if s.Section != elf.SHN_UNDEF || s.Name == "" || elf.ST_BIND(s.Info) != elf.STB_GLOBAL || im.seen[s.Name] {
		return
	}
	im.seen[s.Name] = true
	im.imports = append(im.imports, s.Name)
}

func newImage(f *elf.File, r io.ReaderAt) (*image, error) {
	im := &image{f: f, r: r, order: f.ByteOrder, relocs: map[uint64]uint64{}, pages: map[uint64][]byte{}}
	switch f.Class {
	case elf.ELFCLASS64:
		im.ptr = 8
	case elf.ELFCLASS32:
		im.ptr = 4
	default:
		return nil, fmt.Errorf("unsupported ELF class %v", f.Class)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			im.loads = append(im.loads, p)
		}
	}
	if len(im.loads) == 0 {
		return nil, errors.New("ELF file has no loadable segments")
	}

	syms, err := f.DynamicSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("dynamic symbols: %w", err)
	}
	im.syms = syms
	im.seen = map[string]bool{}
	if err := im.loadRelocs(); err != nil {
		return nil, err
	}
	for _, s := range im.syms {
		im.noteImport(s)
	}
	return im, nil
}

// sym finds a defined dynamic symbol.
func (im *image) sym(name string) *elf.Symbol {
	for i := range im.syms {
		s := &im.syms[i]
		if s.Name == name && s.Section != elf.SHN_UNDEF {
			return s
		}
	}
	return nil
}

// read reads n bytes at a virtual address; bytes past a segment's file
// contents (.bss) read as zero.
func (im *image) read(addr uint64, n int) ([]byte, error) {
	for _, p := range im.loads {
		if addr < p.Vaddr || addr-p.Vaddr >= p.Memsz || p.Memsz-(addr-p.Vaddr) < uint64(n) {
			continue
		}
		b := make([]byte, n)
		off := addr - p.Vaddr
		if off < p.Filesz {
			m := min(uint64(n), p.Filesz-off)
			if err := im.readFile(b[:m], p.Off+off); err != nil {
				return nil, fmt.Errorf("read %#x: %w", addr, err)
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("address %#x is outside the file's segments", addr)
}

// pageSize is the unit file reads are cached in: the few records and
// strings needed cluster in a few pages, and a cached page beats a system
// call per pointer.
const pageSize = 4096

// readFile fills b from the file at off through the page cache.
func (im *image) readFile(b []byte, off uint64) error {
	for len(b) > 0 {
		pg, err := im.page(off / pageSize)
		if err != nil {
			return err
		}
		in := off % pageSize
		if in >= uint64(len(pg)) {
			return io.ErrUnexpectedEOF
		}
		n := copy(b, pg[in:])
		b, off = b[n:], off+uint64(n)
	}
	return nil
}

func (im *image) page(n uint64) ([]byte, error) {
	if pg, ok := im.pages[n]; ok {
		return pg, nil
	}
	pg := make([]byte, pageSize)
	m, err := im.r.ReadAt(pg, int64(n*pageSize))
	if m == 0 && err != nil {
		return nil, err
	}
	im.pages[n] = pg[:m]
	return pg[:m], nil
}

// pointer is the pointer stored at addr once relocated.
func (im *image) pointer(addr uint64) (uint64, error) {
	if v, ok := im.relocs[addr]; ok {
		return v, nil
	}
	b, err := im.read(addr, im.ptr)
	if err != nil {
		return 0, err
	}
	return im.word(b), nil
}

// maxString bounds the strings read (names, signatures).
const maxString = 1024

// cstring reads the NUL-terminated string at addr.
func (im *image) cstring(addr uint64) (string, error) {
	if addr == 0 {
		return "", errors.New("NULL string pointer")
	}
	var out []byte
	for chunk := 64; len(out) < maxString; chunk = 256 {
		b, err := im.readUpTo(addr+uint64(len(out)), chunk)
		if err != nil {
			return "", err
		}
		for i, c := range b {
			if c == 0 {
				return string(append(out, b[:i]...)), nil
			}
		}
		out = append(out, b...)
	}
	return "", fmt.Errorf("string at %#x is longer than %d bytes", addr, maxString)
}

// readUpTo reads at most n bytes at addr, fewer at a segment's end.
func (im *image) readUpTo(addr uint64, n int) ([]byte, error) {
	for _, p := range im.loads {
		if addr >= p.Vaddr && addr-p.Vaddr < p.Memsz {
			n = int(min(uint64(n), p.Memsz-(addr-p.Vaddr)))
			return im.read(addr, n)
		}
	}
	return nil, fmt.Errorf("address %#x is outside the file's segments", addr)
}

// relocation kinds that store a pointer into data.
type relKind int

const (
	relNone     relKind = iota
	relRelative         // B + A
	relAbsolute         // S + A
	relGlobDat          // S (+ A where the ABI says so, always 0 in practice)
)

func (im *image) kind(t uint32) relKind {
	switch im.f.Machine {
	case elf.EM_X86_64:
		switch elf.R_X86_64(t) {
		case elf.R_X86_64_RELATIVE:
			return relRelative
		case elf.R_X86_64_64:
			return relAbsolute
		case elf.R_X86_64_GLOB_DAT:
			return relGlobDat
		}
	case elf.EM_AARCH64:
		switch elf.R_AARCH64(t) {
		case elf.R_AARCH64_RELATIVE:
			return relRelative
		case elf.R_AARCH64_ABS64:
			return relAbsolute
		case elf.R_AARCH64_GLOB_DAT:
			return relAbsolute
		}
	case elf.EM_386:
		switch elf.R_386(t) {
		case elf.R_386_RELATIVE:
			return relRelative
		case elf.R_386_32:
			return relAbsolute
		case elf.R_386_GLOB_DAT:
			return relGlobDat
		}
	case elf.EM_ARM:
		switch elf.R_ARM(t) {
		case elf.R_ARM_RELATIVE:
			return relRelative
		case elf.R_ARM_ABS32:
			return relAbsolute
		case elf.R_ARM_GLOB_DAT:
			return relGlobDat
		}
	case elf.EM_RISCV:
		switch elf.R_RISCV(t) {
		case elf.R_RISCV_RELATIVE:
			return relRelative
		case elf.R_RISCV_64, elf.R_RISCV_32:
			return relAbsolute
		}
	case elf.EM_PPC64:
		switch elf.R_PPC64(t) {
		case elf.R_PPC64_RELATIVE:
			return relRelative
		case elf.R_PPC64_ADDR64:
			return relAbsolute
		case elf.R_PPC64_GLOB_DAT:
			return relGlobDat
		}
	case elf.EM_S390:
		switch elf.R_390(t) {
		case elf.R_390_RELATIVE:
			return relRelative
		case elf.R_390_64:
			return relAbsolute
		case elf.R_390_GLOB_DAT:
			return relGlobDat
		}
	}
	return relNone
}

// shtRelr is SHT_RELR, packed relative relocations (debug/elf has no name
// for it).
const shtRelr elf.SectionType = 19

// maxRelocs bounds the relocation entries read per file.
const maxRelocs = 1 << 22

// loadRelocs applies every RELA, REL and RELR section to the relocs map.
func (im *image) loadRelocs() error {
	for _, s := range im.f.Sections {
		var err error
		switch s.Type {
		case elf.SHT_RELA:
			err = im.loadRel(s, true)
		case elf.SHT_REL:
			err = im.loadRel(s, false)
		case shtRelr:
			err = im.loadRelr(s)
		}
		if err != nil {
			return fmt.Errorf("relocations %s: %w", s.Name, err)
		}
	}
	return nil
}

func (im *image) loadRel(s *elf.Section, rela bool) error {
	if s.Flags&elf.SHF_ALLOC == 0 {
		return nil // relocations of an object file, not for the loader
	}
	ent := 2 * im.ptr
	if rela {
		ent = 3 * im.ptr
	}
	if s.Size/uint64(ent) > maxRelocs {
		return fmt.Errorf("%d bytes of relocations is too many", s.Size)
	}
	data, err := s.Data()
	if err != nil {
		return err
	}
	for off := 0; off+ent <= len(data); off += ent {
		e := data[off : off+ent]
		where := im.word(e)
		info := im.word(e[im.ptr:])
		var sym, typ uint64
		if im.ptr == 8 {
			sym, typ = info>>32, info&0xffffffff
		} else {
			sym, typ = info>>8, info&0xff
		}
		if sym != 0 && sym <= uint64(len(im.syms)) {
			im.noteImport(im.syms[sym-1])
		}
		k := im.kind(uint32(typ))
		if k == relNone {
			continue
		}
		var addend uint64
		if rela {
			addend = im.word(e[2*im.ptr:])
		} else if k != relGlobDat {
			// REL: the addend is stored in the place itself.
			b, err := im.read(where, im.ptr)
			if err != nil {
				continue
			}
			addend = im.word(b)
		}
		switch k {
		case relRelative:
			im.relocs[where] = im.trunc(addend)
		case relAbsolute, relGlobDat:
			// Symbol numbers count from 1 in DynamicSymbols (0 is the
			// null symbol it drops).
			if sym == 0 || sym > uint64(len(im.syms)) {
				continue
			}
			target := im.syms[sym-1]
			if target.Section == elf.SHN_UNDEF {
				continue // resolved elsewhere: not this file's data
			}
			im.relocs[where] = im.trunc(target.Value + addend)
		}
	}
	return nil
}

// loadRelr decodes packed relative relocations (SHT_RELR): an even entry is
// an address, an odd one a bitmap of the words following the last address.
func (im *image) loadRelr(s *elf.Section) error {
	if s.Size/uint64(im.ptr) > maxRelocs {
		return fmt.Errorf("%d bytes of relocations is too many", s.Size)
	}
	data, err := s.Data()
	if err != nil {
		return err
	}
	w := uint64(im.ptr)
	var where uint64
	apply := func(addr uint64) {
		if b, err := im.read(addr, im.ptr); err == nil {
			im.relocs[addr] = im.word(b)
		}
	}
	for off := 0; off+im.ptr <= len(data); off += im.ptr {
		e := im.word(data[off:])
		if e&1 == 0 {
			apply(e)
			where = e + w
			continue
		}
		e >>= 1
		for i := uint64(0); e != 0; i, e = i+1, e>>1 {
			if e&1 == 1 {
				apply(where + i*w)
			}
		}
		where += (8*w - 1) * w
	}
	return nil
}

func (im *image) trunc(v uint64) uint64 {
	if im.ptr == 4 {
		return v & 0xffffffff
	}
	return v
}
