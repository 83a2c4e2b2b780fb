package sso

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestTypedSignerBuiltOnce: the at+jwt and logout+jwt signers are built once per key and typ
// (building one per token showed in profiles), and each signs with its own typ and the key's kid.
func TestTypedSignerBuiltOnce(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &signingKey{id: "k1", alg: jose.ES256, private: priv}
	for _, typ := range []jose.ContentType{TypeAccessTokenJWT, LogoutTokenType} {
		a, err := signerFor(k, typ)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := signerFor(k, typ)
		if a != b {
			t.Fatalf("%s: a new signer per call", typ)
		}
		jws, err := a.Sign([]byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		compact, _ := jws.CompactSerialize()
		parsed, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		h := parsed.Signatures[0].Header
		if h.KeyID != "k1" || h.ExtraHeaders[jose.HeaderType] != string(typ) {
			t.Fatalf("%s: header %+v", typ, h)
		}
		if strings.Count(compact, ".") != 2 {
			t.Fatalf("%s: not compact: %s", typ, compact)
		}
	}
}
