package modinfo

import (
	"strings"
	"testing"
)

// TestDiffNamesFeatures compares the signature of a module built without
// --with-compat (FACTS.md: echo against nginx 1.22.1's defaults) with
// Debian's binary, feature by feature.
func TestDiffNamesFeatures(t *testing.T) {
	// Flags 3, 4, 22, 24, 29, 30, 31 and 34 differ.
	noCompat := "8,4,8,0000111111010111001110101111000110"
	var got []string
	for _, d := range Diff(noCompat, compat122, 1022001) {
		got = append(got, d.String())
	}
	want := []string{
		"bit 3 NGX_HAVE_FILE_AIO (file AIO): module off, nginx on",
		"bit 4 sendfile SF_NODISKIO: module off, nginx on",
		"bit 22 NGX_THREADS (threads): module off, nginx on",
		"bit 24 NGX_HTTP_SSL (HTTP SSL): module off, nginx on",
		"bit 29 NGX_HTTP_REALIP (HTTP realip): module off, nginx on",
		"bit 30 NGX_HTTP_HEADERS (HTTP headers): module off, nginx on",
		"bit 31 NGX_HTTP_DAV (HTTP DAV): module off, nginx on",
		"bit 34 NGX_COMPAT (--with-compat): module off, nginx on",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := Diff(compat122, compat122, 1022001); d != nil {
		t.Errorf("equal signatures differ: %v", d)
	}
	// Sizes first; flag meanings that changed follow the nginx version.
	d := Diff(compat122x32, compat122, 1018000)
	if len(d) != 2 || d[0].String() != "pointer size: module 4 bytes, nginx 8 bytes" || d[1].Feature != "time_t size" {
		t.Errorf("32 vs 64 bit: %v", d)
	}
	if f := feature(4, 1018000); f != "AIO sendfile" {
		t.Errorf("flag 4 in 1.18.0 = %q", f)
	}
	if f := feature(18, 1026003); f != "QUIC / HTTP/3" {
		t.Errorf("flag 18 in 1.26.3 = %q", f)
	}
	if d := Diff("garbage", compat122, 0); len(d) != 1 || d[0].Feature != "signature" {
		t.Errorf("garbage: %v", d)
	}
	if _, err := ParseSignature("8,4,8,01x"); err == nil {
		t.Error("malformed signature parsed")
	}
}

// TestDecodeNamesEveryPosition decodes Debian 12's signature: 3 sizes,
// 34 flags, each by its macro and as 1.22.1 means it.
func TestDecodeNamesEveryPosition(t *testing.T) {
	s, err := ParseSignature(compat122)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Decode(1022001)
	if len(d) != 3+34 {
		t.Fatalf("%d positions", len(d))
	}
	on := map[string]string{}
	for _, p := range d {
		on[p.Macro+p.Feature] = p.Value
	}
	for k, want := range map[string]string{
		"pointer size": "8 bytes", "NGX_HAVE_KQUEUE" + "kqueue": "off", "NGX_HAVE_EPOLL" + "epoll": "on",
		"NGX_PCRE" + "PCRE": "on", "NGX_HTTP_CACHE" + "HTTP cache": "on", "NGX_COMPAT" + "--with-compat": "on",
		"unused (SHA1 before 1.11.2)": "off", // bit 18 meant QUIC only from 1.25.3
	} {
		if on[k] != want {
			t.Errorf("%s = %q, want %q", k, on[k], want)
		}
	}
	if got := d[3+22].String(); !strings.HasPrefix(got, "bit 23 NGX_PCRE") || !strings.HasSuffix(got, " on") {
		t.Errorf("bit 23 reads %q", got)
	}
}
