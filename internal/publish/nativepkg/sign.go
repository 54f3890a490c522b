package nativepkg

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha1" //nolint:gosec // apk signs a SHA-1 digest of its control segment; apk-tools knows no other for RSA
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/blakesmith/ar"

	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/signkey"
)

// Sign signs a package that was built unsigned (build runs module code
// and holds no key; release signs): a .deb gets debsigs' origin
// signature, an .rpm the header and header+payload signatures rpm
// --addsign makes, an .apk abuild-sign's signature segment. The
// signatures are made at when (the build's time, or the key's making if
// that is later), so signing the same package again gives the same bytes; they are those nfpm makes when it
// signs at build (TestSignEqualsBuildSigned). A package that is already
// signed is refused: its bytes are what they are.
func Sign(format string, data []byte, key *openpgp.Entity, when time.Time) ([]byte, error) {
	if key == nil {
		return nil, errors.New("no signing key")
	}
	signed, err := Signed(format, data)
	if err != nil {
		return nil, err
	}
	if signed {
		return nil, fmt.Errorf("the %s package is signed already", format)
	}
	// A key made after the build (the first release, a rotated key)
	// signs as of its own making: a signature cannot predate its key.
	for _, t := range append([]time.Time{key.PrimaryKey.CreationTime}, subkeyTimes(key)...) {
		if when.Before(t) {
			when = t
		}
	}
	cfg := signkey.At(key, when)
	switch format {
	case "deb":
		return signDeb(data, key, cfg)
	case "rpm":
		return signRPM(data, key, cfg)
	case "apk":
		return signAPK(data, key)
	}
	return nil, fmt.Errorf("no package format %q", format)
}

func subkeyTimes(key *openpgp.Entity) []time.Time {
	var out []time.Time
	for _, s := range key.Subkeys {
		out = append(out, s.PublicKey.CreationTime)
	}
	return out
}

// Signed reports whether a package carries its format's signature.
func Signed(format string, data []byte) (bool, error) {
	switch format {
	case "deb":
		members, err := debMembers(data)
		if err != nil {
			return false, err
		}
		return len(members) > 3 && strings.HasPrefix(members[3].name, "_gpg"), nil
	case "rpm":
		r, err := readRPM(data)
		if err != nil {
			return false, err
		}
		_, rsa := r.sigs[rpmSigRSA]
		_, pgp := r.sigs[rpmSigPGP]
		return rsa || pgp, nil
	case "apk":
		first, _, err := firstGzipMember(data)
		if err != nil {
			return false, err
		}
		name, err := firstTarName(first)
		if err != nil {
			return false, err
		}
		return strings.HasPrefix(name, ".SIGN."), nil
	}
	return false, fmt.Errorf("no package format %q", format)
}

type arMember struct {
	name string
	hdr  ar.Header
	body []byte
}

// debMembers are a .deb's ar members: debian-binary, control.tar.*,
// data.tar.*, and any signatures after them.
func debMembers(data []byte) ([]arMember, error) {
	r := ar.NewReader(bytes.NewReader(data))
	var members []arMember
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the .deb: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(r, h.Size))
		if err != nil {
			return nil, fmt.Errorf("read the .deb's %s: %w", h.Name, err)
		}
		name := strings.TrimSuffix(strings.TrimSpace(h.Name), "/")
		members = append(members, arMember{name: name, hdr: *h, body: body})
	}
	if len(members) < 3 || members[0].name != "debian-binary" || !strings.HasPrefix(members[1].name, "control.tar") || !strings.HasPrefix(members[2].name, "data.tar") {
		return nil, errors.New("not a .deb: want debian-binary, control.tar.*, data.tar.*")
	}
	return members, nil
}

// signDeb appends _gpgorigin: an armored detached signature of the three
// members' contents, one after the other (what debsig-verify checks).
func signDeb(data []byte, key *openpgp.Entity, cfg *packet.Config) ([]byte, error) {
	members, err := debMembers(data)
	if err != nil {
		return nil, err
	}
	var sig bytes.Buffer
	signed := io.MultiReader(bytes.NewReader(members[0].body), bytes.NewReader(members[1].body), bytes.NewReader(members[2].body))
	if err := openpgp.ArmoredDetachSign(&sig, key, signed, cfg); err != nil {
		return nil, fmt.Errorf("sign the .deb: %w", err)
	}
	out := bytes.NewBuffer(slicesClone(data))
	w := ar.NewWriter(out)
	h := ar.Header{Name: "_gpgorigin", Size: int64(sig.Len()), Mode: 0o644, ModTime: members[0].hdr.ModTime}
	if err := w.WriteHeader(&h); err != nil {
		return nil, err
	}
	if _, err := w.Write(sig.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// rpm header types and the signature tags this file reads and writes.
const (
	rpmTypeChar, rpmTypeInt8, rpmTypeInt16, rpmTypeInt32, rpmTypeInt64 = 1, 2, 3, 4, 5
	rpmTypeString, rpmTypeBin, rpmTypeStringArray, rpmTypeI18N         = 6, 7, 8, 9
	rpmRegionSignatures                                                = 62
	rpmSigRSA, rpmSigPGP                                               = 268, 1002
	rpmLeadSize                                                        = 96
)

type rpmEntry struct {
	typ, count int
	data       []byte
}

type rpmFile struct {
	lead, rest []byte // rest: the main header and the payload
	sigs       map[int]rpmEntry
	headerLen  int // of the main header, at the start of rest
}

var rpmMagic = []byte{0x8e, 0xad, 0xe8, 0x01}

// readHeader reads an rpm header structure at b: its entries but the
// region tag, and its length.
func readHeader(b []byte) (map[int]rpmEntry, int, error) {
	if len(b) < 16 || !bytes.Equal(b[:4], rpmMagic) {
		return nil, 0, errors.New("no rpm header magic")
	}
	n, size := int(binary.BigEndian.Uint32(b[8:12])), int(binary.BigEndian.Uint32(b[12:16]))
	if n < 1 || n > 10000 || size < 0 || size > 64<<20 || len(b) < 16+16*n+size {
		return nil, 0, fmt.Errorf("an rpm header of %d entries, %d bytes, in %d", n, size, len(b))
	}
	store := b[16+16*n : 16+16*n+size]
	entries := map[int]rpmEntry{}
	for i := 0; i < n; i++ {
		e := b[16+16*i : 32+16*i]
		tag, typ := int(binary.BigEndian.Uint32(e[0:4])), int(binary.BigEndian.Uint32(e[4:8]))
		off, count := int(int32(binary.BigEndian.Uint32(e[8:12]))), int(binary.BigEndian.Uint32(e[12:16]))
		if tag == rpmRegionSignatures {
			continue
		}
		if off < 0 || off > len(store) || count < 0 {
			return nil, 0, fmt.Errorf("rpm header tag %d: offset %d out of range", tag, off)
		}
		var l int
		switch typ {
		case rpmTypeChar, rpmTypeInt8, rpmTypeBin:
			l = count
		case rpmTypeInt16:
			l = 2 * count
		case rpmTypeInt32:
			l = 4 * count
		case rpmTypeInt64:
			l = 8 * count
		case rpmTypeString, rpmTypeStringArray, rpmTypeI18N:
			for j, p := 0, off; j < count; j++ {
				k := bytes.IndexByte(store[p:], 0)
				if k < 0 {
					return nil, 0, fmt.Errorf("rpm header tag %d: unterminated string", tag)
				}
				p += k + 1
				l = p - off
			}
		default:
			return nil, 0, fmt.Errorf("rpm header tag %d: unknown type %d", tag, typ)
		}
		if off+l > len(store) {
			return nil, 0, fmt.Errorf("rpm header tag %d: %d bytes past the store", tag, l)
		}
		entries[tag] = rpmEntry{typ: typ, count: count, data: store[off : off+l]}
	}
	return entries, 16 + 16*n + size, nil
}

func readRPM(data []byte) (*rpmFile, error) {
	if len(data) < rpmLeadSize || !bytes.Equal(data[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, errors.New("not an rpm: no lead")
	}
	sigs, n, err := readHeader(data[rpmLeadSize:])
	if err != nil {
		return nil, fmt.Errorf("the rpm's signature header: %w", err)
	}
	start := rpmLeadSize + n + (8-n%8)%8
	if start > len(data) {
		return nil, errors.New("the rpm ends in its signature header")
	}
	_, hl, err := readHeader(data[start:])
	if err != nil {
		return nil, fmt.Errorf("the rpm's header: %w", err)
	}
	return &rpmFile{lead: data[:rpmLeadSize], rest: data[start:], sigs: sigs, headerLen: hl}, nil
}

// headerBytes writes a header structure: entries sorted by tag, integers
// aligned, and the region tag's entry first with its trailer last (as
// rpm and rpmpack lay it out).
func headerBytes(region int, entries map[int]rpmEntry) []byte {
	tags := make([]int, 0, len(entries))
	for t := range entries {
		tags = append(tags, t)
	}
	sort.Ints(tags)
	var store bytes.Buffer
	offsets := make([]int, len(tags))
	for i, t := range tags {
		e := entries[t]
		if a := map[int]int{rpmTypeInt16: 2, rpmTypeInt32: 4, rpmTypeInt64: 8}[e.typ]; a > 0 && store.Len()%a != 0 {
			store.Write(make([]byte, a-store.Len()%a))
		}
		offsets[i] = store.Len()
		store.Write(e.data)
	}
	be := binary.BigEndian
	trailer := be.AppendUint32(nil, uint32(region))
	trailer = be.AppendUint32(trailer, rpmTypeBin)
	trailer = be.AppendUint32(trailer, uint32(int32(-16*(len(entries)+1))))
	trailer = be.AppendUint32(trailer, 16)
	store.Write(trailer)

	out := append(append([]byte(nil), rpmMagic...), 0, 0, 0, 0)
	out = be.AppendUint32(out, uint32(len(entries)+1))
	out = be.AppendUint32(out, uint32(store.Len()))
	for _, v := range []int{region, rpmTypeBin, store.Len() - 16, 16} {
		out = be.AppendUint32(out, uint32(v))
	}
	for i, t := range tags {
		e := entries[t]
		for _, v := range []int{t, e.typ, offsets[i], e.count} {
			out = be.AppendUint32(out, uint32(v))
		}
	}
	return append(out, store.Bytes()...)
}

// signRPM adds the RSA tag (a signature of the header) and the PGP tag
// (of header and payload) to the signature header.
func signRPM(data []byte, key *openpgp.Entity, cfg *packet.Config) ([]byte, error) {
	r, err := readRPM(data)
	if err != nil {
		return nil, err
	}
	sign := func(b []byte) ([]byte, error) {
		var sig bytes.Buffer
		err := openpgp.DetachSign(&sig, key, bytes.NewReader(b), cfg)
		return sig.Bytes(), err
	}
	headerSig, err := sign(r.rest[:r.headerLen])
	if err != nil {
		return nil, fmt.Errorf("sign the rpm's header: %w", err)
	}
	bodySig, err := sign(r.rest)
	if err != nil {
		return nil, fmt.Errorf("sign the rpm: %w", err)
	}
	r.sigs[rpmSigRSA] = rpmEntry{typ: rpmTypeBin, count: len(headerSig), data: headerSig}
	r.sigs[rpmSigPGP] = rpmEntry{typ: rpmTypeBin, count: len(bodySig), data: bodySig}
	sh := headerBytes(rpmRegionSignatures, r.sigs)
	out := append(append([]byte(nil), r.lead...), sh...)
	out = append(out, make([]byte, (8-len(sh)%8)%8)...)
	return append(out, r.rest...), nil
}

// firstGzipMember splits an apk into its first gzip member (a segment:
// signature or control) and the rest.
func firstGzipMember(data []byte) (first, rest []byte, err error) {
	br := bytes.NewReader(data) // an io.ByteReader: gzip reads no further than the member
	z, err := gzip.NewReader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("not an apk: %w", err)
	}
	z.Multistream(false)
	if _, err := io.Copy(io.Discard, io.LimitReader(z, 64<<20)); err != nil {
		return nil, nil, fmt.Errorf("read the apk's first segment: %w", err)
	}
	n := len(data) - br.Len()
	return data[:n], data[n:], nil
}

func firstTarName(segment []byte) (string, error) {
	z, err := gzip.NewReader(bytes.NewReader(segment))
	if err != nil {
		return "", err
	}
	h, err := tar.NewReader(z).Next()
	if err != nil {
		return "", fmt.Errorf("read the apk's first segment: %w", err)
	}
	return h.Name, nil
}

// signAPK prepends the signature segment: a cut tar (no end blocks) of
// .SIGN.RSA.<key>, an RSA signature of the control segment's SHA-1.
func signAPK(data []byte, key *openpgp.Entity) ([]byte, error) {
	k, err := signkey.RSA(key)
	if err != nil {
		return nil, err
	}
	control, _, err := firstGzipMember(data)
	if err != nil {
		return nil, err
	}
	digest := sha1.Sum(control) //nolint:gosec // see the import
	sig, err := signkey.SignAPKDigest(k, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign the apk: %w", err)
	}
	var seg bytes.Buffer
	gz := gzip.NewWriter(&seg)
	var cut bytes.Buffer
	bw := bufio.NewWriter(&cut)
	tw := tar.NewWriter(bw)
	h := &tar.Header{Name: ".SIGN.RSA." + signkey.APKName, Mode: 0o600, Size: int64(len(sig)), Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(h); err != nil {
		return nil, err
	}
	if _, err := tw.Write(sig); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil { // the header and the signature, without tar's end blocks
		return nil, err
	}
	b := cut.Bytes()
	b = append(b, make([]byte, (512-len(b)%512)%512)...)
	if _, err := gz.Write(b); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return append(seg.Bytes(), data...), nil
}
