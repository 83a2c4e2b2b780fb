package sso_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestAuthorizeResourceChecked (review s18 X18-2, helper X's test): the token endpoint checks RFC 8707's
// resource (targetRefusal: an absolute URI without a fragment, one of the client's audiences,
// else invalid_target), but /authorize takes any resource and drops it: a request for a
// resource the client's tokens are never issued for, or one that is no URI, sends the member
// through the sign-in and the app gets a code whose tokens are not for what it asked. RFC 8707
// section 2: an authorization server that does not consider the resource acceptable rejects
// the request with invalid_target (at the redirect URI, with state and iss).
func TestAuthorizeResourceChecked(t *testing.T) {
	h := newHarness(t)
	for _, res := range []string{"not a uri", "https://orders.example/api#frag", "https://elsewhere.example/api"} {
		t.Run(res, func(t *testing.T) {
			v := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"st"}, "resource": {res}}
			resp := h.get(sso.PathAuthorize + "?" + v.Encode())
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if q := loc.Query(); q.Get("error") != "invalid_target" || q.Get("state") != "st" || q.Get("iss") != h.issuer {
				t.Fatalf("resource %q at /authorize: %d %s, want invalid_target at the redirect URI", res, resp.StatusCode, loc)
			}
		})
	}
}

// TestAuthorizeResourceRepeated: RFC 8707 section 2 lets resource be given more than once at
// /authorize (as at the token endpoint); each is checked. Two of the client's audiences go on
// to the sign-in; one acceptable and one not is invalid_target at the redirect URI.
func TestAuthorizeResourceRepeated(t *testing.T) {
	h := newHarness(t)
	const orders, billing = "https://orders.example/api", "https://billing.example/api"
	c := sso.ClientConfig{ID: "audweb", Name: "Audiences", SecretHash: sso.HashSecret(webSecret), RedirectURIs: []string{webRedirect},
		GrantTypes: []string{sso.GrantAuthorizationCode}, Scopes: []string{"openid"}, Trusted: true, Audiences: []string{orders, billing}}
	c.FillDefaults()
	sc, err := sso.EncodeClient(&c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateClient(t.Context(), sc); err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	authorize := func(resources ...string) *url.URL {
		t.Helper()
		v := url.Values{"client_id": {"audweb"}, "redirect_uri": {webRedirect}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st"}, "resource": resources}
		resp := h.get(sso.PathAuthorize + "?" + v.Encode())
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("resources %q at /authorize: %d, want a redirect", resources, resp.StatusCode)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc
	}
	if loc := authorize(orders, billing); loc.Path != "/login" {
		t.Fatalf("two of the client's audiences: %s, want the login page", loc)
	}
	loc := authorize(orders, "https://elsewhere.example/api")
	if q := loc.Query(); q.Get("error") != "invalid_target" || q.Get("state") != "st" || q.Get("iss") != h.issuer {
		t.Fatalf("an acceptable resource and another: %s, want invalid_target at the redirect URI", loc)
	}
}
