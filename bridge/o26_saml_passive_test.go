package bridge_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
)

// Session 26 (O), review s25 W-2's other paths: a passive AuthnRequest (IsPassive, SAML core
// 3.4.1: the IdP may not take visible control) from a signed-in member got an HTML page when
// the member's session could not be ended after the AMS refused them (a store fault: 500), or
// when the SP's access rule refused the member (403) or failed to evaluate (review s25 Y-10).
// Each is answered to the SP: a signed Response with the status Responder (RequestDenied for
// a refusal by the rule; none for a fault) and no assertion.
func TestO26SAMLPassiveAnswersTheSP(t *testing.T) {
	lms := newSAMLSP(t)
	faults := &o26Faults{}
	ws := newWrappedSQLite(t, func(s *sqlite.Store) store.Store { return o26FaultStore{Store: s, faults: faults} })
	e := newEnvDeps(t, false, nil, envDeps{store: ws.open}, withSAMLLMS(lms), func(c *bridge.Config) {
		c.Policy.Policies = map[string]policy.ClientPolicy{"lms": {AccessRule: `member.extra["region"] == "north" && member.is_current`}}
	})
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	admit := func(m *legacy.Member) {
		m.Extra = map[string]string{"region": "north"}
		m.Standing.LockedOut = false
		m.PaidThrough = time.Now().AddDate(1, 0, 0)
	}
	tests := []struct {
		name         string
		change       func(m *legacy.Member)
		methods      []string
		second       string // the second-level status wanted ("" none)
		event        string // the audit row wanted
		pageStatus   int    // the non-passive request's page
		pageContains string
	}{
		{"refused member, session end fails", func(m *legacy.Member) { m.Standing.LockedOut = true }, []string{"EndSessionWithEvents"}, "", "", http.StatusInternalServerError, ""},
		{"access rule refuses", func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, -3, 0) }, nil, crewjam.StatusRequestDenied, "access.denied",
			http.StatusForbidden, "not available with your membership"},
		{"access rule fails to evaluate", func(m *legacy.Member) { m.Extra = nil }, nil, "", "access.rule_error",
			http.StatusInternalServerError, "cannot be opened right now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.dir.Update("alice", admit)
			c := samlPasswordSignIn(t, e, lms)

			e.dir.Update("alice", tt.change)
			defer e.dir.Update("alice", admit)
			passive := true
			faults.set(errO26Locked, tt.methods...)
			body := samlAuthn(t, e, lms, c, &passive, nil)
			faults.set(nil)
			if !strings.Contains(body, `name="SAMLResponse"`) {
				t.Fatalf("passive request (%s): no SAML response to the SP: %.300s", tt.name, body)
			}
			doc, err := base64.StdEncoding.DecodeString(formFields(body).Get("SAMLResponse"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(doc, []byte(crewjam.StatusResponder)) || bytes.Contains(doc, []byte("Assertion")) ||
				bytes.Contains(doc, []byte(crewjam.StatusNoPassive)) ||
				(tt.second != "") != bytes.Contains(doc, []byte(crewjam.StatusRequestDenied)) {
				t.Fatalf("passive request (%s): %.800s, want the status Responder, second-level %q, no assertion", tt.name, doc, tt.second)
			}
			if tt.event != "" {
				evs, err := ws.st.AuditEvents(t.Context(), store.AuditFilter{Event: tt.event})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) == 0 || evs[0].ClientID != "lms" {
					t.Fatalf("passive request (%s): audit %s rows %+v", tt.name, tt.event, evs)
				}
				if tt.event == "access.rule_error" && !strings.Contains(evs[0].Detail, "policies[lms].access_rule") {
					t.Fatalf("rule fault audited without the rule: %q", evs[0].Detail)
				}
			}
			if tt.pageContains == "" {
				return
			}
			// Asked with a page, the member is told as the status says: a refusal, or the
			// server's fault (never "your membership does not allow it" for a rule fault).
			status, b := o26SAMLAuthn(t, e, lms, c)
			if status != tt.pageStatus || !strings.Contains(b, tt.pageContains) ||
				(tt.pageStatus >= 500 && strings.Contains(b, "not available with your membership")) {
				t.Fatalf("sign-in page (%s): %d %.600s, want %d %q", tt.name, status, b, tt.pageStatus, tt.pageContains)
			}
		})
	}
}

// o26SAMLAuthn is samlAuthn (not passive) with the answer's status.
func o26SAMLAuthn(t *testing.T, e *env, sp *samlSP, c *http.Client) (int, string) {
	t.Helper()
	req, err := sp.mw.ServiceProvider.MakeAuthenticationRequest(e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	u, err := req.Redirect("", &sp.mw.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
