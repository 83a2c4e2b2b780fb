package sso_test

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestRedirectURIQueryNamesNoResponseParameter (review s25 X-5; RFC 6749 3.1: a redirection URI's
// query "MUST be retained" and a parameter "MUST NOT be included more than once"; RFC 9207 2: the
// AS MUST add its iss): a redirect_uri whose query names a parameter of the authorization response
// (code, state, iss, error, error_description, error_uri), or a post_logout_redirect_uri whose
// query names end_session's state, is refused at registration, the message naming the field and
// the parameter. Before, https://app/cb?iss=https://other was stored, and its responses carried
// the registered iss instead of the issuer's; ?state= or ?code= reached the app twice. Other
// query parameters, and names that only look alike (ISS, codes), stay accepted.
func TestRedirectURIQueryNamesNoResponseParameter(t *testing.T) {
	for _, tc := range []struct {
		field, uri, param string // param "" = accepted
	}{
		{"redirect_uris", "https://app.example.org/cb?tenant=a", ""},
		{"redirect_uris", "https://app.example.org/cb?ISS=x&codes=1&states", ""},
		{"redirect_uris", "org.example.app:/oauth?x=1", ""},
		{"redirect_uris", "https://app.example.org/cb?iss=https://other.example", "iss"},
		{"redirect_uris", "https://app.example.org/cb?code=1", "code"},
		{"redirect_uris", "https://app.example.org/cb?a=1&state", "state"},
		{"redirect_uris", "https://app.example.org/cb?error=x", "error"},
		{"redirect_uris", "https://app.example.org/cb?error_description=x", "error_description"},
		{"redirect_uris", "https://app.example.org/cb?error_uri=x", "error_uri"},
		{"redirect_uris", "http://127.0.0.1:8080/cb?state=", "state"},
		{"redirect_uris", "org.example.app:/oauth?code=", "code"},
		{"redirect_uris", "https://app.example.org/cb?a=%zz", "malformed"},
		{"post_logout_redirect_uris", "https://app.example.org/bye?code=1&iss=x", ""}, // end_session adds state only
		{"post_logout_redirect_uris", "https://app.example.org/bye?state=1", "state"},
	} {
		c := sso.ClientConfig{ID: "app", Name: "App", SecretHash: sso.HashSecret(strings.Repeat("s", 32)),
			RedirectURIs: []string{"https://app.example.org/cb"}}
		if tc.field == "redirect_uris" {
			c.RedirectURIs = []string{tc.uri}
		} else {
			c.PostLogoutRedirectURIs = []string{tc.uri}
		}
		c.FillDefaults()
		err := c.Validate()
		if tc.param == "" {
			if err != nil {
				t.Errorf("%s %q refused: %v", tc.field, tc.uri, err)
			}
			continue
		}
		want := `"` + tc.param + `"`
		if tc.param == "malformed" {
			want = "malformed"
		}
		if err == nil || !strings.Contains(err.Error(), "clients[app]."+tc.field) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s %q: %v, want it refused naming the field and %s", tc.field, tc.uri, err, want)
		}
	}
}
