package bridge_test

import (
	"net/http"
	"testing"
)

// TestSAMLLogoutRequestOfAnotherEndsNothing (review s17, coverage; SAML core 3.7.3.2, profiles
// 4.4.3.3: the IdP ends the principal's session only for a LogoutRequest that names it): a
// LogoutRequest, signed by a registered SP and carried by the member's own browser, that names
// another principal at that SP, or that comes from an SP the member never signed in to
// (naming the member's NameID at another SP), ends nothing: the bridge session and its SAML
// participants stay, while the SP's request naming the member ends it. Passes on main (slo's matches: SP, NameID, SessionIndex).
func TestSAMLLogoutRequestOfAnotherEndsNothing(t *testing.T) {
	e, lms, events, _ := samlEnv(t)
	browser, acs, f := samlResponse(t, e, lms) // alice is signed in at the bridge and at lms
	resp, err := browser.PostForm(acs, f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sub := identitySubject(t, e, mustMember(t, e, "alice").Key)
	ctx := t.Context()
	if s, _ := e.store.Sessions(ctx, sub); len(s) != 1 {
		t.Fatalf("%d sessions after the SAML sign-in", len(s))
	}
	for name, make := range map[string]func() (string, error){
		"lms, another principal": func() (string, error) {
			u, err := lms.mw.ServiceProvider.MakeRedirectLogoutRequest("someone-else", "r1")
			return u.String(), err
		},
		"events, not a participant": func() (string, error) {
			u, err := events.mw.ServiceProvider.MakeRedirectLogoutRequest(sub, "r2")
			return u.String(), err
		},
	} {
		u, err := make()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp, _ := fetch(t, func() (*http.Response, error) { return browser.Get(u) })
		if s, _ := e.store.Sessions(ctx, sub); len(s) != 1 {
			t.Fatalf("%s: answered %d, %d sessions left, want the session kept", name, resp.StatusCode, len(s))
		}
		if ps, err := e.store.SAMLParticipants(ctx, firstSessionID(t, e, sub)); err != nil || len(ps) != 1 {
			t.Fatalf("%s: participants %d (%v), want lms kept", name, len(ps), err)
		}
	}
	// The control: lms's request naming alice ends the session, so the requests above were read.
	u, err := lms.mw.ServiceProvider.MakeRedirectLogoutRequest(sub, "r3")
	if err != nil {
		t.Fatal(err)
	}
	fetch(t, func() (*http.Response, error) { return browser.Get(u.String()) })
	if s, _ := e.store.Sessions(ctx, sub); len(s) != 0 {
		t.Fatalf("lms's own LogoutRequest for alice left %d sessions", len(s))
	}
}

func firstSessionID(t *testing.T, e *env, sub string) string {
	t.Helper()
	s, err := e.store.Sessions(t.Context(), sub)
	if err != nil || len(s) == 0 {
		t.Fatalf("no session of %s: %v", sub, err)
	}
	return s[0].ID
}
