package nativepkg

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/signkey"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// rsaKey is a signing key made before the signatures of these tests.
func rsaKey(t *testing.T) *openpgp.Entity {
	t.Helper()
	made := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	e, err := openpgp.NewEntity("repo", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048, Time: made})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSignEqualsBuildSigned: a package built unsigned (as build makes
// them, holding no key) and signed by Sign (as release does) is, byte for
// byte, the package nfpm signs while it builds; signing twice gives the
// same bytes, and a signed package is not signed again.
func TestSignEqualsBuildSigned(t *testing.T) {
	t.Parallel()
	key := rsaKey(t)
	when := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, d := range []struct{ distro, nginx string }{{"debian-12", "1.22.1"}, {"rocky-9", "1.20.1"}, {"alpine-3.22", "1.28.0"}} {
		t.Run(d.distro, func(t *testing.T) {
			s := spec(t, d.distro, d.nginx)
			s.MTime = when
			unsigned, err := Build(s)
			if err != nil {
				t.Fatal(err)
			}
			s.Signer = key
			want, err := Build(s)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := Signed(unsigned.Format, unsigned.Data); ok || err != nil {
				t.Fatalf("the unsigned %s reads as signed: %v %v", unsigned.Format, ok, err)
			}
			if ok, err := Signed(want.Format, want.Data); !ok || err != nil {
				t.Fatalf("nfpm's signed %s reads as unsigned: %v %v", want.Format, ok, err)
			}
			got, err := Sign(unsigned.Format, unsigned.Data, key, when)
			if err != nil {
				t.Fatal(err)
			}
			if unsigned.Format == "apk" {
				// nfpm compresses apk segments with pgzip, whose gzip header
				// and blocks differ from compress/gzip's for the same bytes:
				// the segments must hold the same bytes, and the control and
				// data segments (what the signature covers) be the same.
				sameAPK(t, got, want.Data)
			} else if !bytes.Equal(got, want.Data) {
				t.Errorf("%s signed after the build (%d bytes) differs from nfpm's signed build (%d bytes)", unsigned.Format, len(got), len(want.Data))
			}
			again, _ := Sign(unsigned.Format, unsigned.Data, key, when)
			if !bytes.Equal(again, got) {
				t.Errorf("%s: signing twice gave other bytes", unsigned.Format)
			}
			if _, err := Sign(unsigned.Format, got, key, when); err == nil || !strings.Contains(err.Error(), "signed already") {
				t.Errorf("%s: a signed package signed again: %v", unsigned.Format, err)
			}
		})
	}
}

// TestSignedRPMChecks: rpm itself accepts Sign's signatures with the
// published key, and refuses the package once a byte of its payload
// changed.
func TestSignedRPMChecks(t *testing.T) {
	t.Parallel()
	rpm := testenv.Tool(t, "rpm", "rpm")
	key := rsaKey(t)
	p, err := Build(spec(t, "rocky-9", "1.20.1"))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Sign("rpm", p.Data, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, armored, err := signkey.Public(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "key.asc"), armored, 0o644)
	db := filepath.Join(dir, "db")
	if out, err := exec.Command(rpm, "--dbpath", db, "--import", filepath.Join(dir, "key.asc")).CombinedOutput(); err != nil {
		t.Fatalf("rpm --import: %v\n%s", err, out)
	}
	f := filepath.Join(dir, "p.rpm")
	os.WriteFile(f, signed, 0o644)
	out, err := exec.Command(rpm, "--dbpath", db, "--checksig", "-v", f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature, key ID") || strings.Contains(string(out), "NOT OK") {
		t.Errorf("rpm --checksig: %v\n%s", err, out)
	}
	bad := bytes.Clone(signed)
	bad[len(bad)-100] ^= 0xff
	os.WriteFile(f, bad, 0o644)
	if out, err := exec.Command(rpm, "--dbpath", db, "--checksig", "-v", f).CombinedOutput(); err == nil {
		t.Errorf("rpm --checksig accepted a changed payload:\n%s", out)
	}
}

func sameAPK(t *testing.T, got, want []byte) {
	t.Helper()
	gs, grest, err := firstGzipMember(got)
	if err != nil {
		t.Fatal(err)
	}
	ws, wrest, err := firstGzipMember(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(grest, wrest) {
		t.Errorf("apk: the control and data segments differ from nfpm's signed build")
	}
	inflate := func(b []byte) []byte {
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(z)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if !bytes.Equal(inflate(gs), inflate(ws)) {
		t.Errorf("apk: the signature segment holds other bytes than nfpm's")
	}
}
