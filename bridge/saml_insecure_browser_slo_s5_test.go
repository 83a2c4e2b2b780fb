package bridge_test

import (
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
)

// TestSAMLBrowserSLOPlainHTTPElsewhere (brief S5 3, review s21 X2-3): an SP registered before
// session 19's rules whose endpoints are plain http on another host (refused for sign-ins since)
// is not sent a LogoutRequest through the browser over that plain http (it names the member and
// the session in the clear), as the SOAP channel refuses plain http: the chain skips it and the
// audit log gets logout.untold naming the member and the SP. With the SP's
// allow_insecure_soap_slo, the same opt-in as the SOAP channel's, the chain visits it.
// Before, the chain always took the browser there.
func TestSAMLBrowserSLOPlainHTTPElsewhere(t *testing.T) {
	for _, allow := range []bool{false, true} {
		name := "no opt-in"
		if allow {
			name = "allow_insecure_soap_slo"
		}
		t.Run(name, func(t *testing.T) {
			lms, old := newSAMLSP(t), newSAMLSP(t)
			e := newEnv(t, withSAMLLMS(lms))
			lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
			// Stored as registered before the rules (registration refuses it now).
			samlStartOld(t, e, old, allow)

			c := samlClient()
			subject := samlSignInAtBoth(t, e, c, lms, old, 0)

			resp, body := samlSignOutAtBridge(t, e, c)
			// The chain's steps, up to one that goes to the old SP (not followed: no such host).
			resp, body, toOld := samlChainTo(t, c, resp, body, samlOldBase)
			untold := samlUntold(t, e, "oldapp")
			if allow {
				if toOld == nil || toOld.Query().Get("SAMLRequest") == "" {
					t.Fatalf("with allow_insecure_soap_slo the chain did not visit the old SP; last page %s %.600s", resp.Request.URL, body)
				}
				if len(untold) != 0 {
					t.Errorf("with allow_insecure_soap_slo: %d logout.untold events, want none", len(untold))
				}
				return
			}
			if toOld != nil {
				t.Fatalf("the chain took the browser to the old SP's plain http single logout service: %s://%s%s", toOld.Scheme, toOld.Host, toOld.Path)
			}
			if resp.Request.URL.Path != "/logout/done" || !strings.Contains(body, `id="signed-out"`) {
				t.Fatalf("the chain did not end on the signed-out page: %s %.600s", resp.Request.URL, body)
			}
			if len(untold) != 1 || untold[0].Subject != subject || !strings.Contains(untold[0].Detail, samlOldBase+"/saml/slo") ||
				!strings.Contains(untold[0].Detail, "allow_insecure_soap_slo") {
				t.Fatalf("logout.untold events %+v; want one naming alice, the old SP, its endpoint and the opt-in", untold)
			}
		})
	}
}
