package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestAuthorizeParameterPollution: the provider's own checks before op (the RFC 8252 loopback
// rule) read the first value of a parameter, op's decoder the last one. An authorization request
// that repeats a parameter anywhere (twice in a POST body, or once in the query and once in
// the body) is refused on a page, never sent to the login page or redirected to.
func TestAuthorizeParameterPollution(t *testing.T) {
	e := grantEnv(t)
	v := oauth2.GenerateVerifier()
	base := url.Values{
		"client_id": {"mobile"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"st"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"},
	}
	const registered, other = "http://127.0.0.1:5/mobile/cb", "http://localhost:5/mobile/cb"
	cases := []struct {
		name        string
		query, body url.Values
	}{
		{"body twice", nil, with(base, "redirect_uri", registered, other)},
		{"query and body", url.Values{"redirect_uri": {other}}, with(base, "redirect_uri", registered)},
		{"client_id twice", nil, with(with(base, "redirect_uri", other), "client_id", "nosuchclient", "mobile")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := e.issuer + "/authorize"
			if tc.query != nil {
				u += "?" + tc.query.Encode()
			}
			b := e.browser()
			p := b.Post(u, tc.body)
			if p.Status != http.StatusBadRequest || p.Location != "" || p.URL.Path != "/authorize" {
				t.Fatalf("repeated parameter accepted: status %d at %s, location %q", p.Status, p.URL, p.Location)
			}
			if strings.Contains(p.Body, `name="password"`) {
				t.Fatal("login form shown for a polluted request")
			}
		})
	}
}

// with returns a copy of v with k set to vals.
func with(v url.Values, k string, vals ...string) url.Values {
	out := url.Values{}
	for kk, vv := range v {
		out[kk] = append([]string(nil), vv...)
	}
	out[k] = vals
	return out
}
