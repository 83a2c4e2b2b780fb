package upstream

import (
	"context"
	"testing"
	"time"
)

// TestLogoutTokenWithoutExp: an upstream logout token without exp is refused (Back-Channel
// Logout 1.0 incorporating errata set 1, 2.4: exp REQUIRED; 2.6: validated as for an ID token).
// go-oidc's verifier does it: a missing exp reads as the zero time, which has passed.
func TestLogoutTokenWithoutExp(t *testing.T) {
	f := newFakeOP(t)
	p := f.provider(nil)
	claims := map[string]any{"iss": f.srv.URL, "aud": "bridge", "iat": time.Now().Unix(), "jti": "j-1", "sub": "u-1",
		"events": map[string]any{backchannelEvent: map[string]any{}}}
	if lt, err := p.VerifyLogoutToken(context.Background(), f.sign(claims)); err == nil {
		t.Fatalf("a logout token without exp was accepted: %+v", lt)
	}
	claims["exp"] = time.Now().Add(2 * time.Minute).Unix()
	if _, err := p.VerifyLogoutToken(context.Background(), f.sign(claims)); err != nil {
		t.Fatalf("the same token with exp: %v", err)
	}
}
