package bridge_test

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSAMLLogoutSignsOffAMS (review s13 X5): an SP's own LogoutRequest ends the bridge session
// "as RP-initiated logout does" (README), and signing out anywhere signs the member out of the
// AMS website too (single sign-off): otherwise the website's session signs them straight back
// in to every app through the hand-off. TestSingleSignOff checks it for end_session; here an SP's
// signed LogoutRequest, answered with the HTTP-Redirect binding (lms) and, through the chain,
// with the HTTP-POST one (an SP that lists only that binding).
func TestSAMLLogoutSignsOffAMS(t *testing.T) {
	for _, binding := range []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding} {
		t.Run(binding[strings.LastIndex(binding, ":")+1:], func(t *testing.T) { testSAMLLogoutSignsOffAMS(t, binding, false) })
	}
	// The bridge session ended before (here: the member website's link to /logout/ams, whose
	// own sign-out this test does not follow) while the SP's session lives on: the SP's
	// LogoutRequest still signs the member out of the website, as end_session with an
	// id_token_hint does (review s9 Z5).
	t.Run("no bridge session", func(t *testing.T) { testSAMLLogoutSignsOffAMS(t, crewjam.HTTPRedirectBinding, true) })
}

func testSAMLLogoutSignsOffAMS(t *testing.T, binding string, sessionGone bool) {
	lms := newSAMLSP(t)
	lms.logoutBinding = binding
	e := newEnvWith(t, true, func(c *bridge.Config) {
		if binding == crewjam.HTTPRedirectBinding { // in the configuration: HTTP-Redirect
			c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
		}
	})
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	if binding == crewjam.HTTPPostBinding { // registered from its metadata: HTTP-POST only
		raw, err := xml.Marshal(lms.mw.ServiceProvider.Metadata())
		if err != nil {
			t.Fatal(err)
		}
		reg, err := saml.NewRegistry(config.SAMLConfig{}, e.store, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(t.Context(), config.SAMLServiceProvider{ID: "lms", Name: "Learning Portal"}, raw, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	amsLogin(t, e, b, "alice", "alice-password")
	if home := b.Get(e.issuer + "/demo-ams/"); !strings.Contains(home.Body, "alice") {
		t.Fatalf("not signed in at the AMS website: %.300s", home.Body)
	}
	// Sign in at the SP (the password on the SAML login page).
	req, err := lms.mw.ServiceProvider.MakeAuthenticationRequest(e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	u, err := req.Redirect("", &lms.mw.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	login := b.Get(u.String())
	f := login.Hidden()
	if f.Get("csrf") == "" || f.Get("id") == "" {
		t.Fatalf("no SAML login page: %d %.300s", login.Status, login.Body)
	}
	answer := b.Post(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}})
	doc, _ := base64.StdEncoding.DecodeString(formFields(answer.Body).Get("SAMLResponse"))
	m := regexp.MustCompile(`<saml:NameID[^>]*>([^<]+)</saml:NameID>`).FindSubmatch(doc)
	if m == nil {
		t.Fatalf("no assertion: %.300s / %.300s", doc, answer.Body)
	}
	if sessionGone {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/logout/ams", nil)
		req.Header.Set("Referer", e.issuer+"/demo-ams/")
		resp, err := b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if b.Get(e.issuer+"/account").Status != 401 {
			t.Fatal("/logout/ams left the bridge session")
		}
	}
	// The SP's signed LogoutRequest for that member.
	lr, err := lms.mw.ServiceProvider.MakeRedirectLogoutRequest(string(m[1]), "")
	if err != nil {
		t.Fatal(err)
	}
	out := b.Get(lr.String())
	if b.Get(e.issuer+"/account").Status != 401 {
		t.Fatalf("the SP's LogoutRequest left the bridge session (%d %.300s)", out.Status, out.Body)
	}
	if home := b.Get(e.issuer + "/demo-ams/"); strings.Contains(home.Body, "alice") {
		t.Fatalf("an SP's LogoutRequest ended the bridge session but not the AMS website's: the hand-off signs the member back in (left at %s %q)",
			out.URL, out.Location)
	}
}
