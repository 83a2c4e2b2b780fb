package bridge_test

import (
	"context"
	"encoding/xml"
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

// TestSAMLChangeNameIDFormatInPlace (brief S5 2, closing s21/s22 M3): the admin API changes a
// registered SP's name_id_format in place (PATCH /admin/saml/service-providers/{sp}, audited)
// without removing it: a member signed in there before the change is signed out of it with the
// NameID it was given (persistent: her subject), which crewjam's SP accepts; her next sign-in
// there gets the new format (her e-mail address), and her next sign-out names her with that.
// An SP of the configuration file is refused (409), an unknown one is 404, a format refused
// by the rules is 400; none of them writes. Before, there was no way but remove (deleting the
// SP's places in sessions and queued logouts) and register again.
func TestSAMLChangeNameIDFormatInPlace(t *testing.T) {
	lms, app := newSAMLSP(t), newSAMLSP(t)
	e, a := adminEnv(t, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
		c.Policy.EmailVerified = true
	})
	ctx := context.Background()
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	app.start(t, e, crewjam.HTTPRedirectBinding, "app_token")
	raw, err := xml.Marshal(app.mw.ServiceProvider.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := saml.Record(config.SAMLServiceProvider{ID: "app", Name: "App", NameIDFormat: config.SAMLNameIDPersistent}, raw, app.entityID(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	seen := watchSLO(t, app)
	var subject string // alice's, once she has signed in
	const email = "alice@example.org"

	// signOut signs c out at the bridge through the browser chain and returns the NameID of the
	// LogoutRequest the app got, after checking that it accepted it.
	signOut := func(c *http.Client) *crewjam.NameID {
		t.Helper()
		seen.mu.Lock()
		before := len(seen.requests)
		seen.mu.Unlock()
		_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/logout") })
		f := formFields(body)
		resp, body := fetch(t, func() (*http.Response, error) {
			return c.PostForm(e.issuer+"/logout", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
		})
		resp, body = walkChain(t, c, resp, body)
		if resp.Request.URL.Path != "/logout/done" {
			t.Fatalf("the chain did not end on the signed-out page: %s %.600s", resp.Request.URL, body)
		}
		seen.mu.Lock()
		defer seen.mu.Unlock()
		if len(seen.requests) != before+1 || seen.answers[before] != http.StatusFound || seen.requests[before].NameID == nil {
			t.Fatalf("the app got %d LogoutRequests (answers %v), want one more, accepted", len(seen.requests)-before, seen.answers)
		}
		return seen.requests[before].NameID
	}
	participant := func() *store.SAMLParticipant {
		t.Helper()
		sessions, err := e.store.Sessions(ctx, subject)
		if err != nil || len(sessions) != 1 {
			t.Fatalf("alice's sessions: %d, %v", len(sessions), err)
		}
		ps, err := e.store.SAMLParticipants(ctx, sessions[0].ID)
		if err != nil || len(ps) != 1 {
			t.Fatalf("the session's SPs: %+v, %v", ps, err)
		}
		return ps[0]
	}

	// Signed in before the change: persistent.
	c := samlClient()
	signInAtSP(t, e, c, app)
	subject = identitySubject(t, e, mustMember(t, e, "alice").Key)
	if p := participant(); p.NameID != subject {
		t.Fatalf("before the change the app was given %q, want the subject", p.NameID)
	}

	// Refusals write nothing.
	for _, r := range []struct {
		path   string
		body   any
		status int
	}{
		{"lms", map[string]any{"name_id_format": "email"}, http.StatusConflict},
		{"nope", map[string]any{"name_id_format": "email"}, http.StatusNotFound},
		{"app", map[string]any{"name_id_format": "transient"}, http.StatusBadRequest},
		{"app", map[string]any{}, http.StatusBadRequest},
	} {
		if status, _, m := a.do(http.MethodPatch, "/admin/saml/service-providers/"+r.path, adminToken, r.body); status != r.status {
			t.Errorf("PATCH %s %v: %d %v, want %d", r.path, r.body, status, m, r.status)
		}
	}

	got := a.ok(http.MethodPatch, "/admin/saml/service-providers/app", map[string]any{"name_id_format": "email"})
	if got["name_id_format"] != "email" || got["entity_id"] != app.entityID() || !strings.Contains(strings.Join(toStrings(got["changes"]), ";"), "name_id_format: persistent -> email") ||
		!strings.Contains(strings.Join(toStrings(got["notes"]), ";"), "NameID the SP was given") {
		t.Fatalf("PATCH answer %v", got)
	}
	evs, err := e.store.AuditEvents(ctx, store.AuditFilter{Event: "admin.saml_sp_settings", ClientID: "app"})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, "persistent -> email") || !strings.Contains(evs[0].Detail, "admin-api@") {
		t.Fatalf("audit: %+v, %v", evs, err)
	}
	if again := a.ok(http.MethodPatch, "/admin/saml/service-providers/app", map[string]any{"name_id_format": "email"}); again["unchanged"] != true {
		t.Errorf("the same change again: %v, want unchanged", again)
	}

	// The session that signed in before the change: its logout names alice as the app knows her.
	if p := participant(); p.NameID != subject {
		t.Fatalf("after the change the session's record of the app holds %q, want the subject it was given", p.NameID)
	}
	if id := signOut(c); id.Value != subject || id.Format != string(crewjam.PersistentNameIDFormat) {
		t.Fatalf("the logout after the change named %+v, want the persistent NameID the app was given", id)
	}

	// A new sign-in gets the new format, and its logout names her with it.
	c = samlClient()
	signInAtSP(t, e, c, app)
	if p := participant(); p.NameID != email {
		t.Fatalf("a sign-in after the change: the app was given %q, want %s", p.NameID, email)
	}
	if id := signOut(c); id.Value != email || id.Format != string(crewjam.EmailAddressNameIDFormat) {
		t.Fatalf("the logout of a sign-in after the change named %+v, want %s", id, email)
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, s := range l {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}
