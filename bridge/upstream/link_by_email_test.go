package upstream

import (
	"context"
	"strings"
	"testing"
)

// TestLinksByEmail (brief s20 M2 item 4; OIDC Core 5.1 email_verified): an identity from the
// provider's ID token is linked by its e-mail address only when link_by_email is on, the AMS's
// addresses are verified (email_verified: true in the configuration; start-up refuses
// link_by_email without it, and the rule holds here too) and the provider said
// email_verified true (the boolean, or the string some providers send). An address the
// provider did not say it verified (false, "false", absent, another value) is never linked.
func TestLinksByEmail(t *testing.T) {
	f := newFakeOP(t)
	for _, tc := range []struct {
		name        string
		claims      func(map[string]any)
		linkByEmail bool
		amsVerified bool
		links       bool
	}{
		{"verified", nil, true, true, true},
		{"verified as a string", func(c map[string]any) { c["email_verified"] = "true" }, true, true, true},
		{"email_verified false", func(c map[string]any) { c["email_verified"] = false }, true, true, false},
		{"email_verified \"false\"", func(c map[string]any) { c["email_verified"] = "false" }, true, true, false},
		{"email_verified absent", func(c map[string]any) { delete(c, "email_verified") }, true, true, false},
		{"email_verified 1", func(c map[string]any) { c["email_verified"] = 1 }, true, true, false},
		{"email_verified null", func(c map[string]any) { c["email_verified"] = nil }, true, true, false},
		{"no address, verified", func(c map[string]any) { delete(c, "email") }, true, true, false},
		{"link_by_email off", nil, false, true, false},
		{"the AMS's addresses not verified", nil, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ProviderConfig{Name: "fake", Issuer: f.srv.URL, ClientID: "bridge", ClientSecret: "s", LinkByEmail: tc.linkByEmail,
				Scopes: []string{"openid", "email"}}
			p := New([]ProviderConfig{cfg}, Options{CallbackURL: func(n string) string { return "http://127.0.0.1/upstream/" + n + "/callback" },
				HTTPClient: f.srv.Client(), AMSEmailVerified: tc.amsVerified}).List()[0]
			c := f.idClaims("n-1")
			if tc.claims != nil {
				tc.claims(c)
			}
			f.idToken = f.sign(c)
			id, err := p.Exchange(context.Background(), Callback{Code: "c", Iss: f.srv.URL, IssPresent: true}, "n-1", strings.Repeat("v", 43))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if got := p.LinksByEmail(id); got != tc.links {
				t.Fatalf("LinksByEmail = %v, want %v (identity %+v)", got, tc.links, id)
			}
		})
	}
}
