package signkey

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestRead(t *testing.T) {
	t.Parallel()
	e, _ := openpgp.NewEntity("repo", "", "repo@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	e.SerializePrivate(w, nil)
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	e.Serialize(w)
	w.Close()
	if k, err := Read(priv.Bytes()); err != nil || k.PrimaryKey.Fingerprint == nil {
		t.Errorf("a private key: %v", err)
	}
	if _, err := Read(pub.Bytes()); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("a public key: %v", err)
	}
	if err := e.PrivateKey.Encrypt([]byte("pass")); err != nil {
		t.Fatal(err)
	}
	var enc bytes.Buffer
	w, _ = armor.Encode(&enc, openpgp.PrivateKeyType, nil)
	e.SerializePrivateWithoutSigning(w, nil)
	w.Close()
	if _, err := Read(enc.Bytes()); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("a passphrase-protected key: %v", err)
	}
	if _, err := Read([]byte("not a key")); err == nil || !strings.Contains(err.Error(), "armored private key") {
		t.Errorf("not a key: %v", err)
	}
}
