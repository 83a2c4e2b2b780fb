package mfa

import (
	"net/url"
	"slices"
	"testing"
)

// TestPasskeyOriginAsBrowsersSendIt (review s19, noticed; X19-1's class): the relying party's
// origin is the issuer's as a browser serialises it (RFC 6454 6.1), so an issuer written with
// its scheme's default port or in capitals still matches the clientDataJSON origin; before,
// https://sso.example.org:443 gave an origin no browser sends and every passkey failed.
func TestPasskeyOriginAsBrowsersSendIt(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://sso.example.org":          "https://sso.example.org",
		"https://sso.example.org:443/":     "https://sso.example.org",
		"HTTPS://SSO.Example.ORG:443/oidc": "https://sso.example.org",
		"https://sso.example.org:8443":     "https://sso.example.org:8443",
		"http://localhost:80":              "http://localhost",
	} {
		u, err := url.Parse(issuer)
		if err != nil {
			t.Fatal(err)
		}
		wa, err := NewWebAuthn(u, "Test")
		if err != nil {
			t.Fatalf("%s: %v", issuer, err)
		}
		if got := wa.wa.Config.RPOrigins; !slices.Equal(got, []string{want}) {
			t.Errorf("issuer %s: origins %q, want %q", issuer, got, want)
		}
	}
}
