package bridge_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSAMLForceAuthnNotAnsweredByHandoff (review s13 X2): an AuthnRequest with ForceAuthn asks
// the IdP to "authenticate the presenter directly rather than rely on a previous security
// context" (SAML core 3.4.1). A session the AMS website's hand-off opened is such a context (the
// member typed nothing; the AMS session may be days old), whenever it was opened: the OIDC side
// never lets it answer prompt=login or max_age (authflow sessionAnswers, review s9 Z3b). Here the
// SP's ForceAuthn request waits at the login page, the member (or whoever sits at a browser
// still signed in to the member website) goes through the website's SSO page in another tab,
// and the waiting request is opened again: it must still ask for the password, not send the SP
// an assertion.
func TestSAMLForceAuthnNotAnsweredByHandoff(t *testing.T) {
	lms := newSAMLSP(t)
	e := newEnvWith(t, true, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	})
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	b := e.browser()
	amsLogin(t, e, b, "alice", "alice-password")

	force := true
	req, err := lms.mw.ServiceProvider.MakeAuthenticationRequest(e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	req.ForceAuthn = &force
	u, err := req.Redirect("", &lms.mw.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	login := b.Get(u.String())
	id := login.Hidden().Get("id")
	if id == "" || !strings.Contains(login.Body, `action="`+saml.PathLogin+`"`) {
		t.Fatalf("no SAML login page for the ForceAuthn request: %d %.300s", login.Status, login.Body)
	}
	// The member website's SSO page in another tab: the hand-off opens a bridge session.
	iPart(t, e, b, b.Get(e.issuer+"/demo-ams/sso?client=ssobridge"))
	if b.Get(e.issuer+"/account").Status != 200 {
		t.Fatal("the hand-off opened no session")
	}
	again := b.Get(e.issuer + saml.PathContinue + "?id=" + id)
	if f := formFields(again.Body); f.Get("SAMLResponse") != "" {
		doc, _ := base64.StdEncoding.DecodeString(f.Get("SAMLResponse"))
		if bytes.Contains(doc, []byte("Assertion")) {
			t.Fatalf("the hand-off's session answered ForceAuthn with an assertion (no password typed): %.400s", doc)
		}
	}
	if !strings.Contains(again.Body, `action="`+saml.PathLogin+`"`) {
		t.Fatalf("ForceAuthn after a hand-off: not the login page: %d %.300s", again.Status, again.Body)
	}
}
