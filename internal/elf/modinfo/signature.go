package modinfo

import (
	"fmt"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
)

// Signature is NGX_MODULE_SIGNATURE split into its parts: the sizes of a
// pointer, sig_atomic_t and time_t, then one flag per feature
// (src/core/ngx_module.h: NGX_MODULE_SIGNATURE_0 .. _34).
type Signature struct {
	PtrSize, SigAtomicSize, TimeSize string
	Flags                            string
}

// ParseSignature splits a signature string such as
// "8,4,8,0011111111010111001111111111111111".
func ParseSignature(s string) (Signature, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 || strings.Trim(parts[3], "01") != "" || parts[3] == "" {
		return Signature{}, fmt.Errorf("malformed module signature %q", s)
	}
	return Signature{parts[0], parts[1], parts[2], parts[3]}, nil
}

// Compat reports whether the signature says --with-compat (flag 34).
func (s Signature) Compat() bool { return flag(s.Flags, 34) == '1' }

func flag(flags string, n int) byte {
	if n < 1 || n > len(flags) {
		return '?'
	}
	return flags[n-1]
}

// feature names what flag n of a signature stands for in modules built for
// the given nginx version (number form); a few positions changed meaning.
func feature(n int, version uint64) string {
	switch {
	case n == 4 && version != 0 && version < 1021005:
		return "AIO sendfile"
	case n == 18 && version != 0 && version < 1025003:
		return "unused (SHA1 before 1.11.2)"
	case n == 25 && version != 0 && version < 1011005:
		return "HTTP/2"
	case n == 27 && version != 0 && version < 1011005:
		return "HTTP degradation"
	}
	if n >= 1 && n < len(features) {
		return features[n]
	}
	return fmt.Sprintf("flag %d", n)
}

// features are the flags' meanings in current nginx (index = flag number).
var features = [...]string{
	1:  "kqueue",
	2:  "IOCP",
	3:  "file AIO",
	4:  "sendfile SF_NODISKIO",
	5:  "eventfd",
	6:  "epoll",
	7:  "TCP keepalive tuning",
	8:  "IPv6",
	9:  "IPV6_V6ONLY (always on)",
	10: "SO_REUSEPORT (always on)",
	11: "accept filter (SO_ACCEPTFILTER)",
	12: "TCP_DEFER_ACCEPT (always on)",
	13: "setfib",
	14: "TCP fast open",
	15: "unix domain sockets",
	16: "variadic macros",
	17: "unused (MD5 before 1.11.2)",
	18: "QUIC / HTTP/3",
	19: "openat",
	20: "atomic operations",
	21: "POSIX semaphores",
	22: "threads",
	23: "PCRE",
	24: "HTTP SSL",
	25: "HTTP/2 fields (always on)",
	26: "HTTP gzip",
	27: "HTTP degradation fields (always on)",
	28: "HTTP X-Forwarded-For",
	29: "HTTP realip",
	30: "HTTP headers",
	31: "HTTP DAV",
	32: "HTTP cache",
	33: "HTTP upstream zone",
	34: "--with-compat",
}

// macros are the configure results each flag stands for
// (src/core/ngx_module.h), where that is one macro.
var macros = map[int]string{
	1: "NGX_HAVE_KQUEUE", 2: "NGX_HAVE_IOCP", 3: "NGX_HAVE_FILE_AIO", 5: "NGX_HAVE_EVENTFD", 6: "NGX_HAVE_EPOLL",
	7: "NGX_HAVE_KEEPALIVE_TUNABLE", 8: "NGX_HAVE_INET6", 13: "NGX_HAVE_SETFIB", 14: "NGX_HAVE_TCP_FASTOPEN",
	15: "NGX_HAVE_UNIX_DOMAIN", 16: "NGX_HAVE_VARIADIC_MACROS", 19: "NGX_HAVE_OPENAT", 20: "NGX_HAVE_ATOMIC_OPS",
	21: "NGX_HAVE_POSIX_SEM", 22: "NGX_THREADS", 23: "NGX_PCRE", 24: "NGX_HTTP_SSL", 26: "NGX_HTTP_GZIP",
	28: "NGX_HTTP_X_FORWARDED_FOR", 29: "NGX_HTTP_REALIP", 30: "NGX_HTTP_HEADERS", 31: "NGX_HTTP_DAV",
	32: "NGX_HTTP_CACHE", 33: "NGX_HTTP_UPSTREAM_ZONE", 34: "NGX_COMPAT",
}

// Position is one part of a signature, by name.
type Position struct {
	// Bit is the flag's position (1-34), 0 for a size.
	Bit     int    `json:"bit,omitempty"`
	Macro   string `json:"macro,omitempty"`
	Feature string `json:"feature"`
	// Value is "on" or "off" for a flag, "N bytes" for a size.
	Value string `json:"value"`
}

func (p Position) String() string {
	if p.Bit == 0 {
		return fmt.Sprintf("%s: %s", p.Feature, p.Value)
	}
	if p.Macro != "" {
		return fmt.Sprintf("bit %2d %-26s %-36s %s", p.Bit, p.Macro, p.Feature, p.Value)
	}
	return fmt.Sprintf("bit %2d %-26s %-36s %s", p.Bit, "-", p.Feature, p.Value)
}

// Decode names every part of the signature as nginx version (number
// form; 0 for current nginx) means it: the three sizes, then each flag.
func (s Signature) Decode(version uint64) []Position {
	out := []Position{
		{Feature: "pointer size", Value: s.PtrSize + " bytes"},
		{Feature: "sig_atomic_t size", Value: s.SigAtomicSize + " bytes"},
		{Feature: "time_t size", Value: s.TimeSize + " bytes"},
	}
	for n := 1; n <= len(s.Flags); n++ {
		out = append(out, Position{Bit: n, Macro: macros[n], Feature: feature(n, version), Value: onOff(flag(s.Flags, n))})
	}
	return out
}

// Difference is one feature on which a module and a binary disagree.
type Difference struct {
	// Bit is the flag's position in the signature (1-34), 0 for a size.
	Bit     int    `json:"bit,omitempty"`
	Macro   string `json:"macro,omitempty"`
	Feature string `json:"feature"`
	Module  string `json:"module"`
	Binary  string `json:"binary"`
}

func (d Difference) String() string {
	name := d.Feature
	if d.Bit > 0 {
		name = fmt.Sprintf("bit %d %s", d.Bit, d.Feature)
		if d.Macro != "" {
			name = fmt.Sprintf("bit %d %s (%s)", d.Bit, d.Macro, d.Feature)
		}
	}
	return fmt.Sprintf("%s: module %s, nginx %s", name, d.Module, d.Binary)
}

// Fix says what makes a build of the module agree with the binary on d.
func (d Difference) Fix() string {
	on := d.Binary == "on"
	switch d.Bit {
	case 0:
		return "build on the target's platform (its architecture and C library)"
	case 23:
		if on {
			return "the target has PCRE, this build has none: install PCRE's headers (libpcre2-dev; libpcre3-dev for nginx before 1.21.5)"
		}
		return "the target has no PCRE: configure --without-pcre (build --like does)"
	case 24:
		if on {
			return "configure --with-http_ssl_module with OpenSSL's headers installed (libssl-dev)"
		}
	case 26:
		if on {
			return "install zlib's headers (zlib1g-dev)"
		}
		return "configure --without-http_gzip_module (build --like does)"
	case 32:
		if !on {
			return "configure --without-http-cache (build --like does)"
		}
	case 34:
		if !on {
			return "the target is built without --with-compat: configure exactly like it (build --like PATH)"
		}
		return "the target is built --with-compat: build with it too"
	}
	return "configure like the target: build --like PATH"
}

// Diff lists by name where a module's signature and a binary's differ;
// version is the binary's nginx version number, to name the flags as that
// version means them. Unparseable signatures are one difference.
func Diff(module, binary string, version uint64) []Difference {
	if module == binary {
		return nil
	}
	m, err1 := ParseSignature(module)
	b, err2 := ParseSignature(binary)
	if err1 != nil || err2 != nil {
		return []Difference{{Feature: "signature", Module: module, Binary: binary}}
	}
	var out []Difference
	for _, p := range []struct{ name, m, b string }{
		{"pointer size", m.PtrSize, b.PtrSize},
		{"sig_atomic_t size", m.SigAtomicSize, b.SigAtomicSize},
		{"time_t size", m.TimeSize, b.TimeSize},
	} {
		if p.m != p.b {
			out = append(out, Difference{Feature: p.name, Module: p.m + " bytes", Binary: p.b + " bytes"})
		}
	}
	for n := 1; n <= max(len(m.Flags), len(b.Flags)); n++ {
		if mf, bf := flag(m.Flags, n), flag(b.Flags, n); mf != bf {
			out = append(out, Difference{Bit: n, Macro: macros[n], Feature: feature(n, version), Module: onOff(mf), Binary: onOff(bf)})
		}
	}
	return out
}

func onOff(c byte) string {
	switch c {
	case '1':
		return "on"
	case '0':
		return "off"
	}
	return "absent"
}

// VersionNumber is nginx's number for a version string ("1.22.1" ->
// 1022001).
func VersionNumber(v string) (uint64, error) {
	pv, err := nginxver.Parse(v)
	if err != nil {
		return 0, err
	}
	return uint64(nginxver.Number(pv)), nil
}
