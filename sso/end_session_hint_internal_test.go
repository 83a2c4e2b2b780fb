package sso

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzIDTokenJWS: whatever arrives as id_token_hint, the check of its kind before verification
// does not panic, and a hint it keeps is three segments whose header's typ is JWT or absent.
func FuzzIDTokenJWS(f *testing.F) {
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	id := map[string]any{"sub": "a", "aud": "web", "exp": 2, "iat": 1}
	for _, s := range []string{
		seg(map[string]any{"typ": "JWT", "alg": "RS256"}) + "." + seg(id) + ".sig",
		seg(map[string]any{"typ": "at+jwt", "alg": "RS256"}) + "." + seg(id) + ".sig",
		seg(map[string]any{"alg": "RS256"}) + "." + seg(id) + ".sig",
		seg(map[string]any{"alg": "ES256"}) + "." + seg(map[string]any{"sub": "a", "events": map[string]any{}}) + ".",
		"a.b.c", "", "..", "e30.e30.e30.e30.e30", seg(map[string]any{"typ": 7}) + "." + seg(id) + ".x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, ok := idTokenJWS(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}); !ok {
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("kept %q: not three segments", raw)
		}
		var header map[string]any
		b, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if err := json.Unmarshal(b, &header); err != nil {
			t.Fatalf("kept %q: header %v", raw, err)
		}
		if typ, ok := header["typ"]; ok {
			if s, _ := typ.(string); !strings.EqualFold(s, "JWT") {
				t.Fatalf("kept %q: typ %v", raw, typ)
			}
		}
	})
}

// countingKeySet verifies with one key and counts the verifications.
type countingKeySet struct {
	key   any
	calls int
}

func (k *countingKeySet) VerifySignature(_ context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	k.calls++
	return jws.Verify(k.key)
}

// TestIDTokenKeySetTakesTheVerifiedHint (review s14 RV4-3): op's id_token_hint verifier takes
// the payload of the hint end_session verified (the same signature over the same payload)
// from the context instead of verifying it again; any other JWS, or none in the context, is
// verified.
func TestIDTokenKeySetTakesTheVerifiedHint(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(sub string) (string, []byte) {
		payload, _ := json.Marshal(map[string]any{"sub": sub, "aud": "web", "exp": 2, "iat": 1})
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := jws.CompactSerialize()
		return raw, payload
	}
	parse := func(raw string) *jose.JSONWebSignature {
		jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		return jws
	}
	alice, alicePayload := sign("alice")
	bob, _ := sign("bob")
	hint := parse(alice)
	ctx := context.WithValue(t.Context(), verifiedHintKey{}, &verifiedHint{signature: hint.Signatures[0].Signature, payload: alicePayload})

	inner := &countingKeySet{key: &key.PublicKey}
	ks := idTokenKeySet{inner}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		raw   string
		calls int
	}{
		{"the verified hint", ctx, alice, 0},
		{"another token", ctx, bob, 1},
		{"nothing verified before", t.Context(), alice, 1},
	} {
		inner.calls = 0
		payload, err := ks.VerifySignature(tc.ctx, parse(tc.raw))
		if err != nil || inner.calls != tc.calls {
			t.Errorf("%s: %v, %d verifications, want %d", tc.name, err, inner.calls, tc.calls)
		}
		if want := parse(tc.raw).UnsafePayloadWithoutVerification(); string(payload) != string(want) {
			t.Errorf("%s: payload %s, want %s", tc.name, payload, want)
		}
	}
	// The verified signature over another payload is not taken as verified.
	parts := strings.Split(alice, ".")
	_, bobPayload := sign("bob")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bobPayload) + "." + parts[2]
	inner.calls = 0
	if _, err := ks.VerifySignature(ctx, parse(forged)); err == nil || inner.calls != 1 {
		t.Errorf("alice's signature over bob's claims: %v after %d verifications, want refused after 1", err, inner.calls)
	}
}
