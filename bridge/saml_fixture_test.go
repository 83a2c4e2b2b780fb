package bridge_test

import (
	"encoding/xml"
	"html"
	"net/http"
	"net/http/cookiejar"
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

// The SAML tests' shared set-up (session 27, T): the SP "lms" of the configuration file, an
// SP registered before session 19's rules whose endpoints are plain http on another host ("the
// old SP"), alice signed in at both, the browser's sign-out chain and its audit. Each test
// still builds its own bridge and SPs (nothing here is shared between tests); these are the
// steps that o26_*, s5_*, s6_* and w25_* SAML tests each wrote out again.

// withSAMLLMS enters lms in the bridge's configuration as the SP "lms" ("Learning Portal").
func withSAMLLMS(lms *samlSP) func(*bridge.Config) {
	return func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	}
}

// samlOldBase is where the old SP's endpoints are: plain http on another host, where nothing
// listens (the tests' browsers do not follow a redirect there).
const samlOldBase = "http://old.example.org"

// samlOldMetadata is old's metadata with its assertion consumer services and its single
// logout service (HTTP-Redirect) moved to samlOldBase, as an SP registered before session
// 19's rules could have it (registration refuses it now).
func samlOldMetadata(old *samlSP) *crewjam.EntityDescriptor {
	md := old.mw.ServiceProvider.Metadata()
	d := &md.SPSSODescriptors[0]
	for i := range d.AssertionConsumerServices {
		d.AssertionConsumerServices[i].Location = samlOldBase + "/saml/acs"
	}
	d.SingleLogoutServices = []crewjam.Endpoint{{Binding: crewjam.HTTPRedirectBinding, Location: samlOldBase + "/saml/slo"}}
	return md
}

// samlStoreSP stores md as sp's registration with settings straight into e's store, as a
// registration before today's rules left it (saml.Record: no rule is checked).
func samlStoreSP(t *testing.T, e *env, sp *samlSP, settings config.SAMLServiceProvider, md *crewjam.EntityDescriptor) {
	t.Helper()
	raw, err := xml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := saml.Record(settings, raw, sp.entityID(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateSAMLServiceProvider(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
}

// samlStartOld starts old's app at e (HTTP-Redirect) and stores it as the old SP, "oldapp"
// ("Old App"), with the opt-in allow_insecure_soap_slo as given.
func samlStartOld(t *testing.T, e *env, old *samlSP, allowInsecureSOAPSLO bool) {
	t.Helper()
	old.start(t, e, crewjam.HTTPRedirectBinding, "old_token")
	samlStoreSP(t, e, old, config.SAMLServiceProvider{ID: "oldapp", Name: "Old App", AllowInsecureSOAPSLO: allowInsecureSOAPSLO},
		samlOldMetadata(old))
}

// samlSignInAtBoth signs alice in at lms through the browser c (her only session) and records
// that session as signed in at old too, joined after (from now) and with lms's SessionIndex
// (the old SP cannot be signed in to any more). It returns alice's subject.
func samlSignInAtBoth(t *testing.T, e *env, c *http.Client, lms, old *samlSP, after time.Duration) string {
	t.Helper()
	ctx := t.Context()
	index := signInAtSP(t, e, c, lms)
	subject := identitySubject(t, e, mustMember(t, e, "alice").Key)
	sessions, err := e.store.Sessions(ctx, subject)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("alice's sessions: %+v, %v", sessions, err)
	}
	if err := e.store.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: sessions[0].ID, SP: old.entityID(),
		NameID: subject, NameIDFormat: string(crewjam.PersistentNameIDFormat), SessionIndex: index,
		CreatedAt: time.Now().Add(after), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return subject
}

// samlSignOutAtBridge starts the sign-out at the bridge's page (its form, posted) through c and
// returns the first page of the chain.
func samlSignOutAtBridge(t *testing.T, e *env, c *http.Client) (*http.Response, string) {
	t.Helper()
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/logout") })
	f := formFields(body)
	return fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/logout", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
	})
}

// samlChainTo follows the browser's sign-out chain from body, as walkChain does, up to a step
// whose address starts with prefix: that address is returned, not followed (nil when the chain
// ends without one), with the last page fetched.
func samlChainTo(t *testing.T, c *http.Client, resp *http.Response, body, prefix string) (*http.Response, string, *url.URL) {
	t.Helper()
	for range 8 {
		m := chainRedirect.FindStringSubmatch(body)
		if m == nil {
			break
		}
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(u.String(), prefix) {
			return resp, body, u
		}
		resp, body = fetch(t, func() (*http.Response, error) { return c.Get(u.String()) })
	}
	return resp, body, nil
}

// samlUntold is the audit log's logout.untold events for the SP id.
func samlUntold(t *testing.T, e *env, id string) []*store.AuditEvent {
	t.Helper()
	evs, err := e.store.AuditEvents(t.Context(), store.AuditFilter{Event: "logout.untold", ClientID: id})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// samlPasswordSignIn signs alice in with her password through a new browser at the login page
// sp's AuthnRequest opens, and returns that browser.
func samlPasswordSignIn(t *testing.T, e *env, sp *samlSP) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	f := formFields(samlAuthn(t, e, sp, c, nil, nil))
	resp, err := c.PostForm(e.issuer+saml.PathLogin, map[string][]string{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

// samlOldClient is samlClient that does not follow a redirect to the old SP (no such host):
// the redirect there is the answer, kept.
func samlOldClient() *http.Client {
	c := samlClient()
	c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == "old.example.org" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return c
}

// samlOldLogoutRequest has the browser c take the old SP's own signed LogoutRequest for nameID
// (HTTP-Redirect, RelayState rs-old) to the bridge's single logout service (the IdP's
// metadata) and returns the first page.
func samlOldLogoutRequest(t *testing.T, c *http.Client, old *samlSP, nameID string) (*http.Response, string) {
	t.Helper()
	req, err := old.mw.ServiceProvider.MakeLogoutRequest(old.mw.ServiceProvider.GetSLOBindingLocation(crewjam.HTTPRedirectBinding), nameID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := old.mw.ServiceProvider.RedirectLogoutRequestURL(req, "rs-old")
	if err != nil {
		t.Fatal(err)
	}
	return fetch(t, func() (*http.Response, error) { return c.Get(u.String()) })
}
