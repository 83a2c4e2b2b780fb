package sso_test

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestRedirectURISchemes (review s10 V2; RFC 6749 3.1.2, 10.6, RFC 9700 4.1): a redirect or
// post-logout redirect URI whose scheme a browser runs or renders itself (javascript:, data:,
// vbscript:, file:, blob:, about:, filesystem:) is refused at registration, in either spelling
// of the scheme; private-use schemes of native apps (RFC 8252 7.1) and https stay accepted.
// Before, `clients add` and the admin API stored javascript:alert(1) as a redirect URI.
func TestRedirectURISchemes(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.org/cb", true},
		{"http://127.0.0.1/cb", true},
		{"org.example.app:/oauth", true},
		{"com.example.app://callback", true},
		{"javascript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{"data:text/html,hi", false},
		{"vbscript:msgbox", false},
		{"file:///etc/passwd", false},
		{"blob:https://app.example.org/0f1e", false},
		{"about:blank", false},
		{"filesystem:https://app.example.org/temporary/x", false},
	} {
		for _, field := range []string{"redirect_uris", "post_logout_redirect_uris"} {
			c := sso.ClientConfig{ID: "app", Name: "App", SecretHash: sso.HashSecret(strings.Repeat("s", 32)),
				RedirectURIs: []string{"https://app.example.org/cb"}}
			if field == "redirect_uris" {
				c.RedirectURIs = []string{tc.uri}
			} else {
				c.PostLogoutRedirectURIs = []string{tc.uri}
			}
			c.FillDefaults()
			err := c.Validate()
			if tc.ok && err != nil {
				t.Errorf("%s %q refused: %v", field, tc.uri, err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), field)) {
				t.Errorf("%s %q: %v, want it refused", field, tc.uri, err)
			}
		}
	}
}

// TestInitiateLoginURIValidated (review s13 X3; OIDC Registration 2: initiate_login_uri "MUST
// use the https scheme"; OIDC Core 4): a client's third-party-initiated login endpoint is an
// absolute https URL without fragment (http only on a loopback address), whichever way the client
// is registered (config file, admin API, console and CLI all validate through Validate). Before,
// any string was stored, javascript: included.
func TestInitiateLoginURIValidated(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"", true},
		{"https://portal.example.org/oidc/login", true},
		{"https://portal.example.org/oidc/login?tenant=a", true},
		{"http://127.0.0.1:8080/login", true},
		{"http://portal.example.org/login", false},
		{"javascript:alert(1)", false},
		{"/login", false},
		{"https://portal.example.org/login#x", false},
		{"ftp://portal.example.org/login", false},
		{"https:///login", false},
	} {
		c := sso.ClientConfig{ID: "app", Name: "App", SecretHash: sso.HashSecret(strings.Repeat("s", 32)),
			RedirectURIs: []string{"https://app.example.org/cb"}, InitiateLoginURI: tc.uri}
		c.FillDefaults()
		err := c.Validate()
		if tc.ok && err != nil {
			t.Errorf("%q refused: %v", tc.uri, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "initiate_login_uri")) {
			t.Errorf("%q: %v, want it refused naming initiate_login_uri", tc.uri, err)
		}
	}
}

// TestInitiateLoginURL: the third-party-initiated login target is initiate_login_uri with iss
// set in the query it may already have; none when the URI is missing or not an absolute http(s)
// URL with a host (one stored before Validate checked it). The hand-off's default app and the
// "started in another browser" page both use it (end-of-session review s13 RV2-5).
func TestInitiateLoginURL(t *testing.T) {
	const iss = "https://sso.example.org"
	for _, tc := range []struct{ uri, want string }{
		{"https://portal.example.org/login", "https://portal.example.org/login?iss=https%3A%2F%2Fsso.example.org"},
		{"https://portal.example.org/login?tenant=a", "https://portal.example.org/login?iss=https%3A%2F%2Fsso.example.org&tenant=a"},
		{"https://portal.example.org/login?iss=evil", "https://portal.example.org/login?iss=https%3A%2F%2Fsso.example.org"},
		{"", ""},
		{"javascript:alert(1)", ""},
		{"https:///login", ""},
		{"/login", ""},
	} {
		c := &sso.ClientConfig{ID: "app", InitiateLoginURI: tc.uri}
		got, ok := c.InitiateLoginURL(iss)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%q: %q %v, want %q", tc.uri, got, ok, tc.want)
		}
	}
	var none *sso.ClientConfig
	if _, ok := none.InitiateLoginURL(iss); ok {
		t.Error("a nil client has a target")
	}
}
