package consumer_test

import (
	"context"
	"testing"
)

// TestSignInRefusesAccessTokens (review s9 Z13): an RFC 9068 JWT access token of the bridge
// for a client without audiences has aud = that client, the member's sub, the bridge's iss and
// signature: everything go-oidc's ID token verifier checks. Its typ at+jwt (RFC 9068 2.1) is
// there so that it cannot be taken for another kind of token (RFC 8725 3.11); SignIn took it
// as an ID token and opened a session, so whoever held an access token for the app (a
// resource server it was sent to, a log) could sign in as the member where an app accepts ID
// tokens from outside its own code exchange. An ID token's typ is JWT or absent.
func TestSignInRefusesAccessTokens(t *testing.T) {
	o := newOP(t)
	c, _ := newConsumer(t, o)
	ctx := context.Background()
	for _, typ := range []string{"at+jwt", "application/at+jwt", "logout+jwt", "secevent+jwt"} {
		m := idClaimsFor(o, "sub-1")
		m["client_id"], m["scope"], m["jti"] = "app", "openid profile", "at-1"
		if _, _, err := c.SignIn(ctx, o.sign(t, typ, m)); err == nil {
			t.Fatalf("a token of typ %s opened a session", typ)
		}
	}
	for _, typ := range []string{"", "JWT", "jwt"} {
		if _, _, err := c.SignIn(ctx, o.sign(t, typ, idClaimsFor(o, "sub-1"))); err != nil {
			t.Fatalf("an ID token with typ %q was refused: %v", typ, err)
		}
	}
}
