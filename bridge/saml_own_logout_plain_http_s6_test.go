package bridge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSAMLOwnLogoutRequestPlainHTTPElsewhere (brief s25 S6 3): an SP registered before session
// 19's rules whose single logout service is plain http on another host sends its own signed
// LogoutRequest. The member's session ends as for any SP (the session's other SP, lms, is
// visited through the browser chain and signed out), but without the SP's
// allow_insecure_soap_slo the LogoutResponse is not sent to the plain-http address, the rule
// fca7d1a set for the chain's LogoutRequests (the SAML bindings ask for TLS on these
// exchanges): the member ends on a page saying that the app was not told, and the audit log
// gets logout.untold naming the member, the SP, its address and the opt-in. With no session
// in this browser the same holds (the page, one more logout.untold). With the opt-in the
// answer goes there, as before. Before, the browser was always sent to
// http://old.example.org/saml/slo with the SAMLResponse.
func TestSAMLOwnLogoutRequestPlainHTTPElsewhere(t *testing.T) {
	for _, allow := range []bool{false, true} {
		name := "no opt-in"
		if allow {
			name = "allow_insecure_soap_slo"
		}
		t.Run(name, func(t *testing.T) {
			lms, old := newSAMLSP(t), newSAMLSP(t)
			e := newEnv(t, withSAMLLMS(lms))
			ctx := context.Background()
			lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
			samlStartOld(t, e, old, allow)
			// The browser does not go to old.example.org (no such host): the redirect there is
			// the answer, kept.
			logoutRequest := func(c *http.Client, nameID string) (*http.Response, string) {
				t.Helper()
				resp, body := samlOldLogoutRequest(t, c, old, nameID)
				return walkChain(t, c, resp, body)
			}

			c := samlOldClient()
			subject := samlSignInAtBoth(t, e, c, lms, old, 0)
			resp, body := logoutRequest(c, subject)
			if s, err := e.store.Sessions(ctx, subject); err != nil || len(s) != 0 {
				t.Fatalf("the SP's LogoutRequest left %d sessions (%v); last page %s %.600s", len(s), err, resp.Request.URL, body)
			}
			if _, b := fetch(t, func() (*http.Response, error) { return c.Get(lms.srv.URL + "/app") }); formFields(b).Get("id") == "" {
				t.Fatalf("lms still signed in: %.400s", b)
			}
			loc := resp.Header.Get("Location")
			if allow {
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, samlOldBase+"/saml/slo?") || !strings.Contains(loc, "SAMLResponse=") {
					t.Fatalf("with allow_insecure_soap_slo the answer did not go to the SP: %d %q %.400s", resp.StatusCode, loc, body)
				}
				if evs := samlUntold(t, e, "oldapp"); len(evs) != 0 {
					t.Fatalf("with allow_insecure_soap_slo: logout.untold %+v", evs)
				}
				return
			}
			if strings.HasPrefix(loc, samlOldBase) {
				t.Fatalf("the LogoutResponse was sent to the SP's plain http single logout service: %s", strings.SplitN(loc, "?", 2)[0])
			}
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != saml.PathSLOUntold ||
				!strings.Contains(body, "Old App") || !strings.Contains(body, "was not told") {
				t.Fatalf("the sign-out did not end on the page saying the app was not told: %d %s %.800s", resp.StatusCode, resp.Request.URL, body)
			}
			evs := samlUntold(t, e, "oldapp")
			if len(evs) != 1 || evs[0].Subject != subject || !strings.Contains(evs[0].Detail, "LogoutResponse") ||
				!strings.Contains(evs[0].Detail, samlOldBase+"/saml/slo") || !strings.Contains(evs[0].Detail, "allow_insecure_soap_slo") {
				t.Fatalf("logout.untold %+v; want one naming alice, the answer, the SP's address and the opt-in", evs)
			}

			// No session in this browser (it ended): the same page, one more record.
			resp, body = logoutRequest(samlOldClient(), subject)
			if resp.Request.URL.Path != saml.PathSLOUntold || strings.HasPrefix(resp.Header.Get("Location"), samlOldBase) {
				t.Fatalf("without a session: ended at %d %s (Location %q) %.400s", resp.StatusCode, resp.Request.URL, resp.Header.Get("Location"), body)
			}
			if evs := samlUntold(t, e, "oldapp"); len(evs) != 2 {
				t.Fatalf("without a session: logout.untold %+v, want a second one", evs)
			}
		})
	}
}
