package bridge_test

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// Session 26 (O): the browser's single-logout chain decided at its start which SPs to visit
// (insecureBrowserSLO with the SP's settings then) and never asked again: an SP's
// allow_insecure_soap_slo turned off while a chain was under way (an admin PATCH, a
// configuration reload) still had the browser take a LogoutRequest naming the member to its
// plain-http single logout service elsewhere. Each hop now reads the SP's current settings:
// the SP is left out at its hop, audited logout.untold, and the chain ends on the signed-out
// page. (TestSAMLBrowserSLOPlainHTTPElsewhere covers the setting as it is at the start.)
func TestO26SAMLBrowserSLOSettingTurnedOffMidChain(t *testing.T) {
	lms, old := newSAMLSP(t), newSAMLSP(t)
	e, a := adminEnv(t, withSAMLLMS(lms))
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	// Stored as registered before the rules, with the opt-in: the chain starts with it in.
	samlStartOld(t, e, old, true)

	c := samlClient()
	// After the lms participant: the chain visits lms first, then the old SP.
	subject := samlSignInAtBoth(t, e, c, lms, old, time.Second)

	resp, body := samlSignOutAtBridge(t, e, c)
	if m := chainRedirect.FindStringSubmatch(body); m == nil || strings.HasPrefix(html.UnescapeString(m[1]), samlOldBase) {
		t.Fatalf("the chain did not start at the lms SP: %s %.600s", resp.Request.URL, body)
	}
	// The opt-in is turned off (the admin API) while the browser is at the first SP.
	a.ok(http.MethodPatch, "/admin/saml/service-providers/oldapp", map[string]any{"allow_insecure_soap_slo": false})
	resp, body, toOld := samlChainTo(t, c, resp, body, samlOldBase)
	if toOld != nil {
		t.Fatalf("allow_insecure_soap_slo turned off mid-chain: the chain still took the browser to %s://%s%s", toOld.Scheme, toOld.Host, toOld.Path)
	}
	if resp.Request.URL.Path != "/logout/done" || !strings.Contains(body, `id="signed-out"`) {
		t.Fatalf("the chain did not end on the signed-out page: %s %.600s", resp.Request.URL, body)
	}
	untold := samlUntold(t, e, "oldapp")
	if len(untold) != 1 || untold[0].Subject != subject || !strings.Contains(untold[0].Detail, samlOldBase+"/saml/slo") {
		t.Fatalf("logout.untold events %+v; want one naming alice, the old SP and its endpoint", untold)
	}
}

// Session 26 (O): the same for the chain's last hop, the LogoutResponse to the SP whose own
// LogoutRequest started the sign-out: its answer endpoint (plain http elsewhere) was allowed
// when the chain started, and the opt-in is turned off while the browser is at another SP. The
// answer is not sent there: the member ends on the page saying the app was not told, audited
// logout.untold. (TestSAMLOwnLogoutRequestPlainHTTPElsewhere covers the setting at the start.)
func TestO26SAMLOwnLogoutAnswerSettingTurnedOffMidChain(t *testing.T) {
	lms, old := newSAMLSP(t), newSAMLSP(t)
	e, a := adminEnv(t, withSAMLLMS(lms))
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	samlStartOld(t, e, old, true)
	c := samlOldClient()
	subject := samlSignInAtBoth(t, e, c, lms, old, 0)
	resp, body := samlOldLogoutRequest(t, c, old, subject)
	if m := chainRedirect.FindStringSubmatch(body); m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), lms.srv.URL) {
		t.Fatalf("the chain did not start at the lms SP: %d %s %.600s", resp.StatusCode, resp.Request.URL, body)
	}
	a.ok(http.MethodPatch, "/admin/saml/service-providers/oldapp", map[string]any{"allow_insecure_soap_slo": false})
	resp, body = walkChain(t, c, resp, body)
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, samlOldBase) {
		t.Fatalf("allow_insecure_soap_slo turned off mid-chain: the LogoutResponse still went to %s", strings.SplitN(loc, "?", 2)[0])
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != saml.PathSLOUntold || !strings.Contains(body, "was not told") {
		t.Fatalf("the sign-out did not end on the page saying the app was not told: %d %s %.600s", resp.StatusCode, resp.Request.URL, body)
	}
	evs := samlUntold(t, e, "oldapp")
	if len(evs) != 1 || evs[0].Subject != subject || !strings.Contains(evs[0].Detail, "LogoutResponse") || !strings.Contains(evs[0].Detail, samlOldBase+"/saml/slo") {
		t.Fatalf("logout.untold %+v; want one naming alice, the answer and the SP's address", evs)
	}
}
