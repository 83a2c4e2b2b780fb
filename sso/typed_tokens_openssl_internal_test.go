package sso

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// countingSigner counts the signatures libcrypto made (the rsasign key it wraps).
type countingSigner struct {
	inner interface {
		Sign(digest []byte) ([]byte, error)
	}
	n atomic.Int64
}

func (c *countingSigner) Sign(digest []byte) ([]byte, error) {
	c.n.Add(1)
	return c.inner.Sign(digest)
}

// TestTypedTokensThroughOpenSSL: under KeyConfig.OpenSSL, JWT access tokens (at+jwt) and
// logout tokens (logout+jwt) are signed by libcrypto through the key's compact signer, as ID
// tokens are, and are byte for byte the tokens jose (crypto/rsa) signed before: the same header
// (alg, kid, typ), payload and signature. They verify with go-jose. It failed before they went
// through the compact signer: libcrypto made none of their signatures.
func TestTypedTokensThroughOpenSSL(t *testing.T) {
	lib := openSSL(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k := &signingKey{id: "kid-typed", alg: jose.RS256, private: rk, openssl: lib, log: slog.New(slog.DiscardHandler),
		createdAt: time.Now().Add(-time.Minute), signUntil: time.Now().Add(time.Hour)}
	tk, err := k.tokenSigner()
	if err != nil {
		t.Fatal(err)
	}
	o := tk.openssl.Load()
	if o == nil {
		t.Fatalf("libcrypto refused the key: %v", k.opensslErr)
	}
	count := &countingSigner{inner: o.Key()}
	tk.openssl.Store(o.WithKey(count))
	m := &KeyManager{keys: []*signingKey{k}, now: time.Now, cfg: KeyConfig{Algorithms: []string{"RS256"}}}
	s := &storage{keys: m, issuer: "https://idp.example"}
	now := time.Unix(1_800_000_000, 0)

	for _, c := range []struct {
		typ  jose.ContentType
		sign func() (string, error)
	}{
		{TypeAccessTokenJWT, func() (string, error) {
			return s.signAccessToken(context.Background(), &ClientConfig{IDTokenSigningAlg: "RS256"},
				&AccessToken{ClientID: "svc", Audience: []string{"api"}, Scopes: []string{"api.read"}, CreatedAt: now,
					ExpiresAt: now.Add(time.Hour)}, "jti-1")
		}},
		{LogoutTokenType, func() (string, error) {
			return m.SignLogoutToken("RS256", LogoutToken{Issuer: "https://idp.example", Audience: "app", Subject: "alice",
				ID: "jti-2", IssuedAt: now})
		}},
	} {
		t.Run(string(c.typ), func(t *testing.T) {
			before := count.n.Load()
			tok, err := c.sign()
			if err != nil {
				t.Fatal(err)
			}
			if got := count.n.Load() - before; got != 1 {
				t.Fatalf("libcrypto made %d signatures for the token, want 1", got)
			}
			parsed, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			payload, err := parsed.Verify(&rk.PublicKey)
			if err != nil {
				t.Fatalf("does not verify: %v", err)
			}
			h := parsed.Signatures[0].Header
			if h.KeyID != k.id || h.Algorithm != string(jose.RS256) || h.ExtraHeaders[jose.HeaderType] != string(c.typ) {
				t.Fatalf("header %+v", h)
			}
			// What jose signed before, for the same payload: the same bytes (PKCS #1 v1.5 is
			// deterministic).
			js, err := newTypedSigner(k, c.typ)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := js.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ref.CompactSerialize()
			if tok != want {
				t.Fatalf("differs from jose's token:\n%s\n%s", tok, want)
			}
			if strings.Count(tok, ".") != 2 {
				t.Fatalf("not compact: %s", tok)
			}
		})
	}
}
