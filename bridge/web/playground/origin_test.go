package playground

import (
	"slices"
	"testing"
)

// TestClientWebOriginAsBrowsersSendIt (review s19, noticed): the playground client's CORS
// origin is the issuer's as a browser sends it in Origin (RFC 6454 6.1), default port left out.
func TestClientWebOriginAsBrowsersSendIt(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://sso.example.org":      "https://sso.example.org",
		"https://sso.example.org:443/": "https://sso.example.org",
		"https://SSO.example.org:8443": "https://sso.example.org:8443",
		"http://127.0.0.1:80":          "http://127.0.0.1",
	} {
		if got := Client(issuer).WebOrigins; !slices.Equal(got, []string{want}) {
			t.Errorf("issuer %s: web origins %q, want %q", issuer, got, want)
		}
	}
}
