package bridge_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestSAMLRefusedSPNoSignInWithALiveSession (review s21 X2, proof test of b0c158a): an SP
// refused for sign-ins by a rule added since its registration (an e-mail NameID without
// email_verified; an http ACS on another host), which single logout now reaches on every path,
// gets no assertion while the member's browser holds a live session that lists it: its own
// AuthnRequest and an IdP-initiated sign-in at it are refused (503, no SAMLResponse), before
// and after its LogoutRequest ended that session, and the LogoutRequest's answer carries none.
func TestSAMLRefusedSPNoSignInWithALiveSession(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings config.SAMLServiceProvider
		httpACS  bool
	}{
		{"e-mail NameID without email_verified", config.SAMLServiceProvider{ID: "oldapp", Name: "Old App", NameIDFormat: config.SAMLNameIDEmail}, false},
		{"http ACS", config.SAMLServiceProvider{ID: "oldapp", Name: "Old App"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lms, old := newSAMLSP(t), newSAMLSP(t)
			e := newEnv(t, func(c *bridge.Config) {
				c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
				c.Policy.EmailVerified = false
			})
			ctx := context.Background()
			lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
			old.start(t, e, crewjam.HTTPRedirectBinding, "old_token")
			md := old.mw.ServiceProvider.Metadata()
			if tc.httpACS {
				for i := range md.SPSSODescriptors[0].AssertionConsumerServices {
					md.SPSSODescriptors[0].AssertionConsumerServices[i].Location = "http://old.example.org/saml/acs"
				}
			}
			raw, err := xml.Marshal(md)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := saml.Record(tc.settings, raw, old.entityID(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.CreateSAMLServiceProvider(ctx, rec); err != nil {
				t.Fatal(err)
			}

			c := samlClient()
			index := signInAtSP(t, e, c, lms)
			subject := identitySubject(t, e, mustMember(t, e, "alice").Key)
			nameID, format := subject, string(crewjam.PersistentNameIDFormat)
			if tc.settings.NameIDFormat == config.SAMLNameIDEmail {
				nameID, format = "alice@example.org", string(crewjam.EmailAddressNameIDFormat)
			}
			sessions, err := e.store.Sessions(ctx, subject)
			if err != nil || len(sessions) != 1 {
				t.Fatalf("alice's sessions: %+v, %v", sessions, err)
			}
			if err := e.store.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: sessions[0].ID, SP: old.entityID(),
				NameID: nameID, NameIDFormat: format, SessionIndex: index, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			noSignIn := func(when string) {
				t.Helper()
				resp, body := fetch(t, func() (*http.Response, error) { return c.Get(old.srv.URL + "/app") })
				if resp.Request.URL.Path != saml.PathSSO || resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "SAMLResponse") {
					t.Fatalf("%s: the refused SP's AuthnRequest: %d %s %.300s", when, resp.StatusCode, resp.Request.URL, body)
				}
				resp, body = fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + saml.PathStart + "oldapp") })
				if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "SAMLResponse") {
					t.Fatalf("%s: an IdP-initiated sign-in at the refused SP: %d %s %.300s", when, resp.StatusCode, resp.Request.URL, body)
				}
			}
			noSignIn("with a live session")

			req, err := old.mw.ServiceProvider.MakeLogoutRequest(old.mw.ServiceProvider.GetSLOBindingLocation(crewjam.HTTPRedirectBinding), nameID)
			if err != nil {
				t.Fatal(err)
			}
			u, err := old.mw.ServiceProvider.RedirectLogoutRequestURL(req, "rs-old")
			if err != nil {
				t.Fatal(err)
			}
			resp, body := fetch(t, func() (*http.Response, error) { return c.Get(u.String()) })
			resp, body = walkChain(t, c, resp, body)
			if strings.Contains(body, `name="SAMLResponse"`) || strings.Contains(resp.Request.URL.RawQuery, "Assertion") {
				t.Fatalf("the LogoutRequest's answer carries a SAMLResponse form: %s %.600s", resp.Request.URL, body)
			}
			if s, err := e.store.Sessions(ctx, subject); err != nil || len(s) != 0 {
				t.Fatalf("the refused SP's LogoutRequest left %d sessions (%v)", len(s), err)
			}
			noSignIn("after its LogoutRequest")
		})
	}
}
