package sso_test

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestFrontchannelLogoutURIOrigin (review s16 X; OpenID Front-Channel Logout 1.0 section 2:
// frontchannel_logout_uri "The domain, port, and scheme of this URL MUST be the same as that
// of a registered Redirection URI value"): a client whose front-channel logout URI is on
// another origin than every redirect URI (a typo, another app's host, http next to https) is
// refused at registration, as other malformed registrations are; today it is accepted and the
// sign-out page frames it with the member's sid, where the app's own cookies never reach.
func TestFrontchannelLogoutURIOrigin(t *testing.T) {
	for _, uri := range []string{"https://other.example/logout", "http://a.example/logout", "https://a.example:8443/logout"} {
		c := &sso.ClientConfig{ID: "fc", SecretHash: "sha256:043a718774c572bd8a25adbeb1bfcd5c0256ae11cecf9f9c3f925d0e52beaf89",
			RedirectURIs: []string{"https://a.example/cb"}, FrontchannelLogoutURI: uri}
		c.FillDefaults()
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "frontchannel_logout_uri") {
			t.Errorf("frontchannel_logout_uri %s with redirect URI https://a.example/cb accepted", uri)
		}
	}
	for _, tc := range []struct{ redirect, logout string }{
		{"https://a.example/cb", "https://a.example/logout?x=1"},
		{"https://A.example:443/cb", "https://a.example/logout"},             // default port, host case
		{"http://127.0.0.1/cb", "http://127.0.0.1:9090/frontchannel-logout"}, // loopback, any port (RFC 8252 7.3)
		{"http://127.0.0.1:9090/callback", "http://127.0.0.1:9090/frontchannel-logout"},
	} {
		ok := &sso.ClientConfig{ID: "fc", SecretHash: "sha256:043a718774c572bd8a25adbeb1bfcd5c0256ae11cecf9f9c3f925d0e52beaf89",
			RedirectURIs: []string{"https://b.example/cb", tc.redirect}, FrontchannelLogoutURI: tc.logout}
		ok.FillDefaults()
		if err := ok.Validate(); err != nil {
			t.Errorf("frontchannel_logout_uri %s with redirect URI %s refused: %v", tc.logout, tc.redirect, err)
		}
	}
	none := &sso.ClientConfig{ID: "fc", SecretHash: "sha256:043a718774c572bd8a25adbeb1bfcd5c0256ae11cecf9f9c3f925d0e52beaf89",
		GrantTypes: []string{sso.GrantClientCredentials}, FrontchannelLogoutURI: "https://a.example/logout"}
	none.FillDefaults()
	if err := none.Validate(); err == nil || !strings.Contains(err.Error(), "frontchannel_logout_uri") {
		t.Errorf("frontchannel_logout_uri without any redirect URI accepted")
	}
}
