// Package signkey is the one OpenPGP key that signs what nginx-modbuild
// publishes: rpm and apk packages, apt and rpm repository metadata, apk
// indexes (with the RSA key inside it: apk knows no other), and how its
// public part is published.
package signkey

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Config signs with SHA-256: apt and dnf refuse SHA-1.
var Config = &packet.Config{DefaultHash: crypto.SHA256}

// At is Config for signatures made at when (a package's build time). With
// an RSA key they are deterministic: the same package signs to the same
// bytes, so a rebuilt cell's package does not replace its released one.
// Other keys keep go-crypto's salt notation, which shields EdDSA from
// fault attacks that a repeated signature would expose.
func At(key *openpgp.Entity, when time.Time) *packet.Config {
	c := &packet.Config{DefaultHash: Config.DefaultHash, Time: func() time.Time { return when }}
	if _, err := RSA(key); err == nil {
		deterministic := false
		c.NonDeterministicSignaturesViaNotation = &deterministic
	}
	return c
}

// Name is the public key's file beside the repositories: Name+".gpg"
// (a binary keyring, for apt's signed-by=) and Name+".asc" (armored).
const Name = "nginx-modbuild"

// Read reads an armored OpenPGP private key (the repo-signing-key
// secret). A passphrase-protected key is refused: give it decrypted.
func Read(armored []byte) (*openpgp.Entity, error) {
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("read the signing key: %w (want an armored private key: gpg --export-secret-keys --armor KEYID)", err)
	}
	for _, e := range list {
		if e.PrivateKey != nil {
			if e.PrivateKey.Encrypted {
				return nil, errors.New("the signing key is passphrase-protected: give it without a passphrase (a dedicated signing key, kept as a secret)")
			}
			return e, nil
		}
	}
	return nil, errors.New("the signing key holds no private key (that is a public key: export the secret key)")
}

// APKName is the name apk knows the signing key by: operators put
// the published key at /etc/apk/keys/APKName.
const APKName = Name + ".rsa.pub"

// RSA is the RSA private key inside an OpenPGP key: apk signs with RSA
// only, so one RSA key signs every family's packages and indexes.
func RSA(key *openpgp.Entity) (*rsa.PrivateKey, error) {
	if key == nil || key.PrivateKey == nil {
		return nil, errors.New("no signing key")
	}
	k, ok := key.PrivateKey.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("apk signs with RSA only, and the signing key is %T: give an RSA key (RSA 3072) to publish apk packages", key.PrivateKey.PrivateKey)
	}
	return k, nil
}

// SignAPKDigest is an apk signature: RSA PKCS#1 v1.5 over a SHA-1 digest
// (what abuild-sign makes; apk-tools verifies .SIGN.RSA.<key> so).
func SignAPKDigest(k *rsa.PrivateKey, sha1Digest []byte) ([]byte, error) {
	return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA1, sha1Digest)
}

// Public is key's public part, binary and armored.
func Public(key *openpgp.Entity) (bin, armored []byte, err error) {
	var b bytes.Buffer
	if err := key.Serialize(&b); err != nil {
		return nil, nil, err
	}
	var a bytes.Buffer
	w, err := armor.Encode(&a, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, nil, err
	}
	w.Write(b.Bytes())
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), append(a.Bytes(), '\n'), nil
}
