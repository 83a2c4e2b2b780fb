package sso_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestAuthorizeScopeBoundsRefused (review s18 X18-8): README "Security properties": "an
// authorize request keeps only the scopes the client may ask for (...; more than 100 scopes or
// one over 128 characters is refused)". op drops the scopes the client may not ask for before
// CreateAuthRequest, so storage.requestScopes only ever sees the kept ones and its two refusals
// never fire: 101 scopes, or a 129-character one, go on to the login page.
func TestAuthorizeScopeBoundsRefused(t *testing.T) {
	h := newHarness(t)
	many := []string{"openid"}
	for i := range 100 {
		many = append(many, fmt.Sprintf("s%d", i))
	}
	for name, sc := range map[string]string{"101 scopes": strings.Join(many, " "), "a 129-character scope": "openid " + strings.Repeat("a", 129)} {
		t.Run(name, func(t *testing.T) {
			v := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {sc}, "state": {"st"}}
			loc, _ := url.Parse(h.get(sso.PathAuthorize + "?" + v.Encode()).Header.Get("Location"))
			if loc.Query().Get("error") != "invalid_scope" {
				t.Fatalf("%s: %s, want invalid_scope at the redirect URI", name, loc)
			}
		})
	}
}
