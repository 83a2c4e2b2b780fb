package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/web/mfa"
)

// TestPasskeyStepLimited (end-of-session review s13 RV2-4): the passkey second-factor endpoints
// are limited per address like the passkey sign-in: since a passkey answer no longer counts
// against the member's wrong codes (10ba5c7), nothing else bounded how many ceremonies (a
// challenge row and, refused, an audit row each) one password could start. Past the limit
// both answer 429 with Retry-After.
func TestPasskeyStepLimited(t *testing.T) {
	const limit = 3
	for _, path := range []string{mfa.PathPasskeyStepBegin, mfa.PathPasskeyStepFinish} {
		e := newEnvDeps(t, false, nil, envDeps{}, localhostIssuer, func(c *bridge.Config) { c.Throttle.AnonymousWrites = limit })
		e.issuer = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
		for i := range limit + 1 {
			resp, _ := postForm(t, e.issuer+path, map[string]string{})
			switch {
			case i < limit && resp.StatusCode == http.StatusTooManyRequests:
				t.Fatalf("%s request %d refused within the limit", path, i+1)
			case i == limit && (resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == ""):
				t.Errorf("%s past the limit: %d (Retry-After %q), want 429", path, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
	}
}
