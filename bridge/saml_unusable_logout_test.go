package bridge_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestSAMLUnusableSPStillGetsBackChannelLogout (brief s20 M2 item 3): an SP registered before
// session 19's rules and refused by them since (an e-mail NameID without email_verified; an
// http ACS on another host) gets no new sign-in (503), but a member who had signed in there
// before is still signed out of it: ending her session sends the SP's SOAP single logout
// service a signed LogoutRequest naming her NameID and SessionIndex, which crewjam's SP accepts
// (it checks the IdP's signature). Single sign-out is the safe direction. Before, the SP was
// skipped like an unknown one and the member stayed signed in there.
func TestSAMLUnusableSPStillGetsBackChannelLogout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings config.SAMLServiceProvider
		httpACS  bool
	}{
		{"e-mail NameID without email_verified", config.SAMLServiceProvider{ID: "soapapp", Name: "SOAP App", NameIDFormat: config.SAMLNameIDEmail}, false},
		{"http ACS", config.SAMLServiceProvider{ID: "soapapp", Name: "SOAP App"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			soapApp := newSAMLSP(t)
			e, lms, _, _ := samlEnv(t, func(c *bridge.Config) {
				c.Policy.EmailVerified = false // the e-mail NameID SP is refused
				c.Shadow.Config.BackoffMin, c.Shadow.Config.BackoffMax = time.Millisecond, time.Millisecond
			})
			ctx := context.Background()
			settings := tc.settings
			settings.AllowInsecureSOAPSLO = true // the SP's SOAP service is plain http on 127.0.0.1
			sp := serveSOAP(t, e, soapApp, settings)
			md := soapApp.mw.ServiceProvider.Metadata()
			md.SPSSODescriptors[0].SingleLogoutServices = append(md.SPSSODescriptors[0].SingleLogoutServices,
				crewjam.Endpoint{Binding: crewjam.SOAPBinding, Location: soapApp.srv.URL + "/saml/soap-slo"})
			if tc.httpACS {
				for i := range md.SPSSODescriptors[0].AssertionConsumerServices {
					md.SPSSODescriptors[0].AssertionConsumerServices[i].Location = "http://soap.example.org/saml/acs"
				}
			}
			raw, err := xml.Marshal(md)
			if err != nil {
				t.Fatal(err)
			}
			// Stored as registered before the rules (registration refuses it now).
			rec, err := saml.Record(settings, raw, soapApp.entityID(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.CreateSAMLServiceProvider(ctx, rec); err != nil {
				t.Fatal(err)
			}

			// A new sign-in there is refused.
			resp, err := e.srv.Client().Get(e.issuer + saml.PathStart + "soapapp")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("a sign-in at the refused SP: %d, want 503", resp.StatusCode)
			}

			// Alice signed in there before the rules: her session has a place at the SP.
			c := samlClient()
			index := signInAtSP(t, e, c, lms)
			subject := identitySubject(t, e, mustMember(t, e, "alice").Key)
			sessions, err := e.store.Sessions(ctx, subject)
			if err != nil || len(sessions) != 1 {
				t.Fatalf("alice's sessions: %+v, %v", sessions, err)
			}
			nameID, format := subject, string(crewjam.PersistentNameIDFormat)
			if settings.NameIDFormat == config.SAMLNameIDEmail {
				nameID, format = "alice@example.org", string(crewjam.EmailAddressNameIDFormat)
			}
			if err := e.store.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: sessions[0].ID, SP: soapApp.entityID(),
				NameID: nameID, NameIDFormat: format, SessionIndex: index, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}

			signOutAt(t, e, c)
			// Delivers due events until the SP has a request (a liveness bound, not a timing check).
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if _, err := e.bridge.Shadow().DeliverDue(ctx); err != nil {
					t.Fatalf("deliver: %v", err)
				}
				got, errs := sp.requests()
				if len(errs) > 0 {
					t.Fatalf("the SP refused the LogoutRequest: %v", errs)
				}
				if len(got) > 0 {
					idx := got[0].AllSessionIndexes()
					if got[0].NameID == nil || got[0].NameID.Value != nameID || len(idx) != 1 || idx[0].Value != index {
						t.Fatalf("LogoutRequest names %+v %+v, want %s / %s", got[0].NameID, idx, nameID, index)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the refused SP was never sent the member's LogoutRequest")
				}
			}
		})
	}
}
