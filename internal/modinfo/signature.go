package modinfo

import (
	"fmt"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/nginxver"
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

// Difference is one feature on which a module and a binary disagree.
type Difference struct {
	Feature string `json:"feature"`
	Module  string `json:"module"`
	Binary  string `json:"binary"`
}

func (d Difference) String() string {
	return fmt.Sprintf("%s: module %s, nginx %s", d.Feature, d.Module, d.Binary)
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
			out = append(out, Difference{Feature: feature(n, version), Module: onOff(mf), Binary: onOff(bf)})
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
