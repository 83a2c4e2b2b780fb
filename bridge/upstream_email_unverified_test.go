package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/upstream"
)

// TestUpstreamLinkByEmailNeedsVerifiedClaim (brief s20 M2 item 4; OIDC Core 5.1): with
// link_by_email on (and the bridge's email_verified: true, which it needs), an upstream whose
// ID token carries alice's address with email_verified false (an upstream bridge whose AMS does
// not verify addresses) does not link her identity: she is asked her AMS password, and no link
// is stored. The same upstream saying email_verified true links it at once. Driven over HTTP
// (TestBrowserUpstreamLinkByEmail drives the same in Chromium when it is there).
func TestUpstreamLinkByEmailNeedsVerifiedClaim(t *testing.T) {
	for _, verified := range []bool{false, true} {
		name := map[bool]string{false: "email_verified false", true: "email_verified true"}[verified]
		t.Run(name, func(t *testing.T) {
			f := newFederation(t, verified, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
			b := newHTTPFed(t, f)
			p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil)
			asked := p.Status == http.StatusOK && strings.Contains(p.Body, "Link your account")
			if asked == verified {
				t.Fatalf("callback: %d %q %.300s; want the password asked: %v", p.Status, p.Location, p.Body, !verified)
			}
			if n := f.links("alice"); (n == 1) != verified {
				t.Fatalf("%d links of alice's, want linked: %v", n, verified)
			}
		})
	}
}
