package sso_test

import (
	"net/url"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestUnsupportedResponseType (review s18 X18-3, helper X's test): discovery lists response_types_supported
// ["code"]. A response type this provider never issues (token, code id_token, a made-up one) is
// RFC 6749 4.1.2.1's unsupported_response_type; op answers unauthorized_client ("missing in the
// client configuration"), which tells the app its registration lacks something an
// administrator could add.
func TestUnsupportedResponseType(t *testing.T) {
	h := newHarness(t)
	for _, rt := range []string{"token", "code id_token", "bogus"} {
		t.Run(rt, func(t *testing.T) {
			v := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {rt}, "scope": {"openid"}, "state": {"st"}}
			loc, _ := url.Parse(h.get(sso.PathAuthorize + "?" + v.Encode()).Header.Get("Location"))
			q := loc.Query()
			if loc.Fragment != "" {
				q, _ = url.ParseQuery(loc.Fragment)
			}
			if q.Get("error") != "unsupported_response_type" || q.Get("state") != "st" || q.Get("iss") != h.issuer {
				t.Fatalf("response_type %q: %s, want unsupported_response_type", rt, loc)
			}
		})
	}
}

// TestUnsupportedResponseTypeMode: the refusal goes where the request implies the response
// (Multiple Response Type Encoding Practices 2.1, RFC 6749 4.2.2.1): the fragment for a type
// that returns a token (token alone included, which op's AuthResponseURL sends to the query),
// the query for an unknown type, and an explicit response_mode wins.
func TestUnsupportedResponseTypeMode(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ rt, mode, want string }{
		{"token", "", "fragment"}, {"id_token", "", "fragment"}, {"code id_token", "", "fragment"},
		{"bogus", "", "query"}, {"token", "query", "query"},
	} {
		v := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {tc.rt}, "scope": {"openid"}, "state": {"st"}}
		if tc.mode != "" {
			v.Set("response_mode", tc.mode)
		}
		loc, _ := url.Parse(h.get(sso.PathAuthorize + "?" + v.Encode()).Header.Get("Location"))
		q, got := loc.Query(), "query"
		if loc.Fragment != "" {
			q, _ = url.ParseQuery(loc.Fragment)
			got = "fragment"
		}
		if q.Get("error") != "unsupported_response_type" || got != tc.want {
			t.Errorf("response_type %q response_mode %q: %s, want unsupported_response_type in the %s", tc.rt, tc.mode, loc, tc.want)
		}
	}
}
