package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestAdminShowsSAMLServiceProvider (brief S6 1): GET /admin/saml/service-providers/{sp}
// answers an SP's settings (every one, false too), its endpoints, its certificates with their
// expiry, where it comes from and whether it is served, by id or by entity id, for an SP of the
// configuration file and a registered one; a PATCH is seen in the next GET; an SP refused for
// sign-ins (plain http on another host, registered before the rule) says why, that it still
// gets logouts and that the browser sign-out leaves it untold without allow_insecure_soap_slo;
// an unknown SP is 404 not_found. Each answered read is audited (admin.saml_sp_show). Before,
// there was no such route: the PATCH was the only way in, and it answered only two settings.
func TestAdminShowsSAMLServiceProvider(t *testing.T) {
	lms, app, old := newSAMLSP(t), newSAMLSP(t), newSAMLSP(t)
	e, a := adminEnv(t, withSAMLLMS(lms))
	ctx := context.Background()
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	app.start(t, e, crewjam.HTTPRedirectBinding, "app_token")
	samlStoreSP(t, e, app, config.SAMLServiceProvider{ID: "app", Name: "App", EncryptAssertions: true, Scopes: []string{"openid", "email"}},
		app.mw.ServiceProvider.Metadata())
	samlStartOld(t, e, old, false) // as before the rules

	wantNotAfter := func(sp *samlSP) string { return sp.cert.NotAfter.UTC().Format(time.RFC3339) }
	for _, tc := range []struct {
		name, path string
		check      func(m map[string]any) string // "" fine, else what is wrong
	}{
		{"registered by id", "app", func(m map[string]any) string {
			s, _ := m["settings"].(map[string]any)
			switch {
			case m["id"] != "app" || m["entity_id"] != app.entityID() || m["name"] != "App" || m["from"] != "registered" || m["registered_at"] == nil:
				return "identity"
			case s["name_id_format"] != "persistent" || s["allow_insecure_soap_slo"] != false || s["encrypt_assertions"] != true ||
				s["authn_requests_signed"] != false || s["logout_responses_signed"] != false || strings.Join(toStrings(s["scopes"]), ",") != "openid,email":
				return "settings"
			case !strings.Contains(strings.Join(toStrings(m["assertion_consumer_services"]), ";"), "HTTP-POST "+app.srv.URL+"/saml/acs"):
				return "assertion consumer services"
			case !strings.Contains(strings.Join(toStrings(m["single_logout_services"]), ";"), app.srv.URL+"/saml/slo"):
				return "single logout services"
			case m["served"] != true || m["gets_logouts"] != true || m["unusable"] != nil || m["browser_logout_untold"] != nil:
				return "served"
			}
			return checkCerts(m, wantNotAfter(app))
		}},
		{"registered by entity id", url.PathEscape(app.entityID()), func(m map[string]any) string {
			if m["id"] != "app" {
				return "id"
			}
			return ""
		}},
		{"config file", "lms", func(m map[string]any) string {
			s, _ := m["settings"].(map[string]any)
			switch {
			case m["id"] != "lms" || m["name"] != "Learning Portal" || m["from"] != "config" || m["registered_at"] != nil:
				return "identity"
			case s["authn_requests_signed"] != true || s["name_id_format"] != "persistent":
				return "settings"
			case m["served"] != true:
				return "served"
			}
			return checkCerts(m, wantNotAfter(lms))
		}},
		{"refused for sign-ins", "oldapp", func(m map[string]any) string {
			switch {
			case m["served"] != false || !strings.Contains(m["unusable"].(string), samlOldBase) || m["gets_logouts"] != true:
				return "unusable"
			case !strings.Contains(m["browser_logout_untold"].(string), "allow_insecure_soap_slo"):
				return "browser_logout_untold"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, m := a.do(http.MethodGet, "/admin/saml/service-providers/"+tc.path, adminToken, nil)
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d %v", tc.path, status, m)
			}
			if bad := tc.check(m); bad != "" {
				t.Fatalf("GET %s: %s wrong in %v", tc.path, bad, m)
			}
		})
	}

	// A change is seen at once; with the opt-in the browser sign-out tells the old SP.
	a.ok(http.MethodPatch, "/admin/saml/service-providers/app", map[string]any{"allow_insecure_soap_slo": true})
	a.ok(http.MethodPatch, "/admin/saml/service-providers/oldapp", map[string]any{"allow_insecure_soap_slo": true})
	if m := a.ok(http.MethodGet, "/admin/saml/service-providers/app", nil); m["settings"].(map[string]any)["allow_insecure_soap_slo"] != true {
		t.Errorf("after PATCH: %v", m)
	}
	if m := a.ok(http.MethodGet, "/admin/saml/service-providers/oldapp", nil); m["browser_logout_untold"] != nil {
		t.Errorf("with allow_insecure_soap_slo the browser sign-out tells it: %v", m)
	}

	status, _, m := a.do(http.MethodGet, "/admin/saml/service-providers/nope", adminToken, nil)
	if status != http.StatusNotFound || m["error"] != "not_found" || !strings.Contains(m["error_description"].(string), "nope") {
		t.Fatalf("unknown SP: %d %v, want 404 not_found naming it", status, m)
	}
	if status, _, _ := a.do(http.MethodGet, "/admin/saml/service-providers/app", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("without the admin token: %d", status)
	}
	evs, err := e.store.AuditEvents(ctx, store.AuditFilter{Event: "admin.saml_sp_show"})
	if err != nil || len(evs) != 6 { // the four cases and the two GETs after the PATCHes; not the 404's
		t.Fatalf("audit admin.saml_sp_show: %d events (%v), want 6", len(evs), err)
	}
	for _, ev := range evs {
		if ev.ClientID == "" || !strings.Contains(ev.Detail, "admin-api@") {
			t.Errorf("audit %+v: want the SP's id and the caller", ev)
		}
	}
}

// checkCerts: m's certificates include the SP's signing one, with its expiry.
func checkCerts(m map[string]any, notAfter string) string {
	certs, _ := m["certificates"].([]any)
	for _, c := range certs {
		c, _ := c.(map[string]any)
		if c["not_after"] == notAfter && (c["use"] == "signing" || c["use"] == "both") && len(c["sha256"].(string)) == 64 {
			return ""
		}
	}
	return "certificates (want the signing certificate expiring " + notAfter + ")"
}
