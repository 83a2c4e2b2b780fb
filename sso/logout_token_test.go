package sso_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/ssobridge/ssobridge/sso"
)

func TestSignLogoutToken(t *testing.T) {
	m, err := sso.NewKeyManager(context.Background(), &memKeys{}, sso.KeyConfig{
		Algorithms: []string{"RS256", "ES256", "EdDSA"}, EncryptionKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	iat := time.Now().Truncate(time.Second)
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		raw, err := m.SignLogoutToken(alg, sso.LogoutToken{Issuer: "https://sso.example.org", Audience: "portal",
			Subject: "sub-1", SessionID: "sid-1", IssuedAt: iat})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
		if err != nil {
			t.Fatalf("%s: parse: %v", alg, err)
		}
		h := jws.Signatures[0].Header
		if string(h.Algorithm) != alg || h.ExtraHeaders["typ"] != sso.LogoutTokenType || h.KeyID == "" {
			t.Fatalf("%s: header alg=%s typ=%v kid=%q", alg, h.Algorithm, h.ExtraHeaders["typ"], h.KeyID)
		}
		var pub any
		for _, k := range m.PublicKeys() {
			if k.ID() == h.KeyID {
				pub = k.Key()
			}
		}
		payload, err := jws.Verify(pub)
		if err != nil {
			t.Fatalf("%s: verify with the published key: %v", alg, err)
		}
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if c["iss"] != "https://sso.example.org" || c["aud"] != "portal" || c["sub"] != "sub-1" || c["sid"] != "sid-1" ||
			c["iat"] != float64(iat.Unix()) || c["exp"] != float64(iat.Add(2*time.Minute).Unix()) || c["jti"] == "" {
			t.Fatalf("%s: claims %v", alg, c)
		}
		if _, ok := c["nonce"]; ok {
			t.Fatalf("%s: a logout token must not carry a nonce", alg)
		}
		ev, _ := c["events"].(map[string]any)
		if obj, ok := ev[sso.BackChannelLogoutEvent].(map[string]any); !ok || len(obj) != 0 || len(ev) != 1 {
			t.Fatalf("%s: events %v", alg, c["events"])
		}
	}
	if _, err := m.SignLogoutToken("RS256", sso.LogoutToken{Issuer: "i", Audience: "a"}); err == nil {
		t.Fatal("a logout token without sub or sid was signed")
	}
}
