package source

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
)

// Signer is a person who signs nginx release tarballs.
type Signer struct {
	Name        string
	Fingerprint string
	// KeyFile is the key's name under nginx.org/keys/; empty when nginx.org
	// no longer publishes it (the key is embedded instead).
	KeyFile string
}

// Signers are the nginx release signing keys, by fingerprint (nginx.org's
// pgp_keys page, and Debian's debian/upstream/signing-key.asc). A key is
// trusted only if its fingerprint is here.
var Signers = []Signer{
	{"Roman Arutyunyan", "43387825DDB1BB97EC36BA5D007C8D7C15D87369", "arut.key"},
	{"Sergey Kandaurov", "D6786CE303D9A9022998DC6CC8464D549AF75C0A", "pluknet.key"},
	{"Konstantin Pavlov", "13C82A63B603576156E30A4EA0EA981B66B0D967", "thresh.key"},
	{"Maxim Dounin", "B0F4253373F8F6F510D42178520A9993A1C052F8", ""},
	{"Maxim Konovalov", "41DB92713D3BF4BFF3EE91069C5E7FA2F54977D4", ""},
}

// DefaultKeyURL is where nginx publishes its signers' keys.
const DefaultKeyURL = "https://nginx.org/keys/"

//go:embed keys/debian-nginx-signing-key.asc
var embeddedKeys []byte

// Keyring holds the trusted signing keys: the embedded ones, and the
// pinned ones it downloads on demand.
type Keyring struct {
	entities openpgp.EntityList
	keyURL   string
	http     *http.Client
	fetched  map[string]bool
}

// NewKeyring returns the embedded keys, fetching others from keyURL (empty:
// nginx.org) when a signature needs them.
func NewKeyring(keyURL string, hc *http.Client) (*Keyring, error) {
	if keyURL == "" {
		keyURL = DefaultKeyURL
	}
	k := &Keyring{keyURL: keyURL, http: hc, fetched: map[string]bool{}}
	if err := k.add(embeddedKeys, "embedded keyring"); err != nil {
		return nil, err
	}
	return k, nil
}

// add accepts only the keys whose fingerprints are pinned.
func (k *Keyring) add(armored []byte, from string) error {
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return fmt.Errorf("read keys from %s: %w", from, err)
	}
	for _, e := range list {
		if signerOf(e) == nil {
			return fmt.Errorf("%s holds key %X, which is not a pinned nginx signing key", from, e.PrimaryKey.Fingerprint)
		}
		k.entities = append(k.entities, e)
	}
	return nil
}

func signerOf(e *openpgp.Entity) *Signer {
	fp := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	for i := range Signers {
		if Signers[i].Fingerprint == fp {
			return &Signers[i]
		}
	}
	return nil
}

// Verify checks a detached armored signature over data and returns the
// signer. When the issuer's key is pinned but not yet in the ring, it is
// downloaded, checked against its fingerprint, and the check retried.
func (k *Keyring) Verify(ctx context.Context, data io.ReadSeeker, sig []byte) (*Signer, error) {
	for attempt := 0; ; attempt++ {
		if _, err := data.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		e, err := openpgp.CheckArmoredDetachedSignature(k.entities, data, bytes.NewReader(sig), nil)
		if err == nil {
			return signerOf(e), nil
		}
		if attempt > 0 || !errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return nil, err
		}
		if ferr := k.fetchAll(ctx); ferr != nil {
			return nil, fmt.Errorf("%w; and fetching the current nginx signing keys failed: %w", err, ferr)
		}
	}
}

// fetchAll downloads every pinned key nginx.org publishes that the ring
// lacks.
func (k *Keyring) fetchAll(ctx context.Context) error {
	var errs []string
	for _, s := range Signers {
		if s.KeyFile == "" || k.fetched[s.KeyFile] {
			continue
		}
		k.fetched[s.KeyFile] = true
		u := k.keyURL + s.KeyFile
		b, err := get(ctx, k.http, u)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if err := k.add(b, u); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// get downloads a key or a tarball (at most maxTarball bytes).
func get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	return fetch.Get(ctx, hc, u, maxTarball, nil)
}
