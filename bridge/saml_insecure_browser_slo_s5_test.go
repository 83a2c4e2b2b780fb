package bridge_test

import (
	"context"
	"encoding/xml"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestSAMLBrowserSLOPlainHTTPElsewhere (brief S5 3, review s21 X2-3): an SP registered before
// session 19's rules whose endpoints are plain http on another host (refused for sign-ins since)
// is not sent a LogoutRequest through the browser over that plain http (it names the member and
// the session in the clear), as the SOAP channel refuses plain http: the chain skips it and the
// audit log gets logout.untold naming the member and the SP. With the SP's
// allow_insecure_soap_slo, the same opt-in as the SOAP channel's, the chain visits it.
// Before, the chain always took the browser there.
func TestSAMLBrowserSLOPlainHTTPElsewhere(t *testing.T) {
	const oldBase = "http://old.example.org"
	for _, allow := range []bool{false, true} {
		name := "no opt-in"
		if allow {
			name = "allow_insecure_soap_slo"
		}
		t.Run(name, func(t *testing.T) {
			lms, old := newSAMLSP(t), newSAMLSP(t)
			e := newEnv(t, func(c *bridge.Config) {
				c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
			})
			ctx := context.Background()
			lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
			old.start(t, e, crewjam.HTTPRedirectBinding, "old_token")
			md := old.mw.ServiceProvider.Metadata()
			d := &md.SPSSODescriptors[0]
			for i := range d.AssertionConsumerServices {
				d.AssertionConsumerServices[i].Location = oldBase + "/saml/acs"
			}
			d.SingleLogoutServices = []crewjam.Endpoint{{Binding: crewjam.HTTPRedirectBinding, Location: oldBase + "/saml/slo"}}
			raw, err := xml.Marshal(md)
			if err != nil {
				t.Fatal(err)
			}
			// Stored as registered before the rules (registration refuses it now).
			rec, err := saml.Record(config.SAMLServiceProvider{ID: "oldapp", Name: "Old App", AllowInsecureSOAPSLO: allow}, raw, old.entityID(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.CreateSAMLServiceProvider(ctx, rec); err != nil {
				t.Fatal(err)
			}

			c := samlClient()
			index := signInAtSP(t, e, c, lms)
			subject := identitySubject(t, e, mustMember(t, e, "alice").Key)
			sessions, err := e.store.Sessions(ctx, subject)
			if err != nil || len(sessions) != 1 {
				t.Fatalf("alice's sessions: %+v, %v", sessions, err)
			}
			if err := e.store.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: sessions[0].ID, SP: old.entityID(),
				NameID: subject, NameIDFormat: string(crewjam.PersistentNameIDFormat), SessionIndex: index,
				CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}

			_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/logout") })
			f := formFields(body)
			resp, body := fetch(t, func() (*http.Response, error) {
				return c.PostForm(e.issuer+"/logout", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
			})
			// The chain's steps, up to one that goes to the old SP (not followed: no such host).
			var toOld *url.URL
			for range 8 {
				m := chainRedirect.FindStringSubmatch(body)
				if m == nil {
					break
				}
				u, err := url.Parse(html.UnescapeString(m[1]))
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(u.String(), oldBase) {
					toOld = u
					break
				}
				resp, body = fetch(t, func() (*http.Response, error) { return c.Get(u.String()) })
			}
			untold, err := e.store.AuditEvents(ctx, store.AuditFilter{Event: "logout.untold", ClientID: "oldapp"})
			if err != nil {
				t.Fatal(err)
			}
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
			if len(untold) != 1 || untold[0].Subject != subject || !strings.Contains(untold[0].Detail, oldBase+"/saml/slo") ||
				!strings.Contains(untold[0].Detail, "allow_insecure_soap_slo") {
				t.Fatalf("logout.untold events %+v; want one naming alice, the old SP, its endpoint and the opt-in", untold)
			}
		})
	}
}
