package sso

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestCompactSignerMatchesJose: the ID token signer that writes the JWS directly gives the
// protected header and payload jose gives for the same key (typ JWT, kid, alg), and tokens
// that jose verifies with the public key; for ES256 over many signatures, so that R and S
// shorter than 32 bytes (a leading zero byte) occur and are padded as RFC 7518 3.4 says.
func TestCompactSignerMatchesJose(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, dk, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		alg  jose.SignatureAlgorithm
		key  crypto.Signer
		runs int
	}{{jose.RS256, rk, 3}, {jose.ES256, ek, 600}, {jose.EdDSA, dk, 3}}
	payload := []byte(`{"iss":"https://issuer.example","sub":"s<&>","aud":"c","exp":1,"name":"Zoë"}`)
	for _, c := range cases {
		t.Run(string(c.alg), func(t *testing.T) {
			k := &signingKey{id: "kid-" + string(c.alg), alg: c.alg, private: c.key}
			cs, err := k.compact()
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := k.compact(); again != cs {
				t.Fatal("a new compact signer per call")
			}
			js, _ := k.Signer()
			ref, err := js.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ref.CompactSerialize()
			wantParts := strings.Split(want, ".")
			for i := range c.runs {
				b, err := cs.appendSigned([]byte("prefix"), payload)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := strings.CutPrefix(string(b), "prefix")
				if !ok {
					t.Fatalf("run %d: dst not kept: %q", i, b)
				}
				parts := strings.Split(got, ".")
				if len(parts) != 3 || parts[0] != wantParts[0] || parts[1] != wantParts[1] {
					t.Fatalf("run %d: header/payload %q.%q, jose %q.%q", i, parts[0], parts[1], wantParts[0], wantParts[1])
				}
				if c.alg != jose.ES256 && got != want { // deterministic signatures: the same token
					t.Fatalf("token differs from jose's:\n%s\n%s", got, want)
				}
				parsed, err := jose.ParseSigned(got, []jose.SignatureAlgorithm{c.alg})
				if err != nil {
					t.Fatal(err)
				}
				out, err := parsed.Verify(c.key.Public())
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if !bytes.Equal(out, payload) {
					t.Fatalf("payload %s", out)
				}
				h := parsed.Signatures[0].Header
				if h.KeyID != k.id || h.Algorithm != string(c.alg) || h.ExtraHeaders[jose.HeaderType] != "JWT" {
					t.Fatalf("header %+v", h)
				}
			}
		})
	}
}

// TestES256RawRejectsMalformed: a signature that is not an ASN.1 pair of integers that fit
// 32 bytes is an error, not a token.
func TestES256RawRejectsMalformed(t *testing.T) {
	long := append([]byte{0x30, 0x46, 0x02, 0x21, 0x01}, make([]byte, 32)...)
	long = append(long, 0x02, 0x21, 0x01)
	long = append(long, make([]byte, 32)...)
	for _, der := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x03, 0x02, 0x01, 0x01}, long, {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}} {
		if _, err := es256Raw(der); err == nil {
			t.Errorf("%x: accepted", der)
		}
	}
	got, err := es256Raw([]byte{0x30, 0x07, 0x02, 0x01, 0x05, 0x02, 0x02, 0x00, 0x80})
	if err != nil || len(got) != 64 || got[31] != 5 || got[63] != 0x80 || got[62] != 0 {
		t.Fatalf("%x %v", got, err)
	}
}

// TestAppendTokenResponseMatchesEncoder: the token response written directly is byte for
// byte what encoding/json's Encoder writes, escaping included.
func TestAppendTokenResponseMatchesEncoder(t *testing.T) {
	cases := []*oidc.AccessTokenResponse{
		{},
		{AccessToken: "at", TokenType: oidc.BearerToken, ExpiresIn: 900},
		{AccessToken: "a.b-c_d", TokenType: oidc.BearerToken, RefreshToken: "fam.3.xyz", ExpiresIn: 1<<63 + 5,
			IDToken: "h.p.s", State: "st", Scope: oidc.SpaceDelimitedArray{"openid", "offline_access"}},
		{AccessToken: `quote" back\ <tag> & amp`, State: "\x00\x1f\u2028\u2029 Zoë \xff", Scope: oidc.SpaceDelimitedArray{"a<b"}},
		{RefreshToken: "only", Scope: oidc.SpaceDelimitedArray{}},
		{IDToken: "x", Scope: oidc.SpaceDelimitedArray{""}},
	}
	for i, r := range cases {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(r); err != nil {
			t.Fatal(err)
		}
		if got := appendTokenResponse(nil, r); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want.Bytes())
		}
	}
}

// TestTokenResponsesReuseBuffers: responses written one after the other through one
// tokenResponses (its pooled buffers reused, a long one after a short one and the other way
// round) are each what encoding/json's Encoder writes for it alone, with the token endpoint's
// headers; an answer that is not an AccessTokenResponse goes through the Encoder.
func TestTokenResponsesReuseBuffers(t *testing.T) {
	long := &oidc.AccessTokenResponse{AccessToken: strings.Repeat("a", 3000), TokenType: oidc.BearerToken,
		RefreshToken: "fam.7.r", IDToken: strings.Repeat("i", 2000), ExpiresIn: 900}
	short := &oidc.AccessTokenResponse{AccessToken: "at", TokenType: oidc.BearerToken}
	huge := &oidc.AccessTokenResponse{AccessToken: strings.Repeat("h", 20<<10)}
	other := map[string]string{"access_token": "x", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}
	var tr tokenResponses
	for i, r := range []any{short, long, short, huge, long, short, other, short} {
		rec := httptest.NewRecorder()
		tr.write(rec, r)
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Body.Bytes(), want.Bytes()) {
			t.Errorf("response %d:\n got %.80s\nwant %.80s", i, rec.Body.Bytes(), want.Bytes())
		}
		h := rec.Header()
		if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
			t.Errorf("response %d: headers %v", i, h)
		}
	}
}
