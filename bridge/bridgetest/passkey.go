package bridgetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Passkey is a software passkey: an ES256 key that answers WebAuthn assertions as an
// authenticator with user verification would, for tests that need no browser. It is
// registered by storing Credential() under ID() for its member (as a registration stores one),
// the member's user handle given to NewPasskey (the discoverable sign-in finds the member by it).
type Passkey struct {
	id     []byte
	key    *ecdsa.PrivateKey
	handle []byte
	count  uint32
}

// NewPasskey makes a passkey for the member whose WebAuthn user handle is handle.
func NewPasskey(t testing.TB, handle []byte) *Passkey {
	t.Helper()
	k := &Passkey{id: make([]byte, 16), handle: handle}
	_, _ = rand.Read(k.id)
	var err error
	if k.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	return k
}

// ID is the credential id.
func (k *Passkey) ID() []byte { return k.id }

// cose is the passkey's public key as WebAuthn carries it (COSE_Key, ES256).
func (k *Passkey) cose(t testing.TB) []byte {
	t.Helper()
	pub, err := k.key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: raw[1:33], YCoord: raw[33:]})
	if err != nil {
		t.Fatal(err)
	}
	return cose
}

// Credential is the go-webauthn credential (JSON) a registration of this passkey stores:
// attestation none, not backup eligible.
func (k *Passkey) Credential(t testing.TB) []byte {
	t.Helper()
	data, err := json.Marshal(webauthn.Credential{ID: k.id, PublicKey: k.cose(t), AttestationType: "none",
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: true}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Register answers a registration ceremony (challenge and rpID from its options, origin the
// page's) as navigator.credentials.create's credential.toJSON() would, with user verification
// and attestation none: what the bridge's registration finish stores as Credential.
func (k *Passkey) Register(t testing.TB, rpID, origin, challenge string) []byte {
	t.Helper()
	rp := sha256.Sum256([]byte(rpID))
	ad := append(rp[:], byte(protocol.FlagUserPresent|protocol.FlagUserVerified|protocol.FlagAttestedCredentialData))
	ad = binary.BigEndian.AppendUint32(ad, k.count)
	ad = append(ad, make([]byte, 16)...) // AAGUID
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(k.id)))
	ad = append(append(ad, k.id...), k.cose(t)...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": challenge, "origin": origin, "crossOrigin": false})
	b := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b(k.id), "rawId": b(k.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b(cd), "attestationObject": b(att)}})
	return out
}

// Assert answers an assertion ceremony (challenge and rpID from its options, origin the
// page's) as navigator.credentials.get's credential.toJSON() would; each answer counts one
// more signature.
func (k *Passkey) Assert(t testing.TB, rpID, origin, challenge string) []byte {
	t.Helper()
	k.count++
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": challenge, "origin": origin, "crossOrigin": false})
	rp := sha256.Sum256([]byte(rpID))
	ad := append(rp[:], byte(protocol.FlagUserPresent|protocol.FlagUserVerified))
	ad = binary.BigEndian.AppendUint32(ad, k.count)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b(k.id), "rawId": b(k.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b(cd), "authenticatorData": b(ad), "signature": b(sig), "userHandle": b(k.handle)}})
	return out
}
