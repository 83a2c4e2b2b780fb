package bridge_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSAMLLoginFormSentAgain drives the SAML password form (/saml/login) past its claim of the
// waiting sign-in (review s17 X17-4) with forms sent again, out of order, with the browser's
// current CSRF token: the first sign-in's form after a second (ForceAuthn) sign-in answered, and
// the second's. Each is refused with "already used", writes no session and ends none (the form
// sent twice at once: TestSAMLDoubleSubmittedLoginLeavesOneSession).
func TestSAMLLoginFormSentAgain(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	ctx := t.Context()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	no, yes := false, true
	loginForm := func(force *bool) url.Values {
		t.Helper()
		body := samlAuthn(t, e, lms, c, &no, force)
		f := formFields(body)
		if f.Get("csrf") == "" || f.Get("id") == "" || !strings.Contains(body, `action="`+saml.PathLogin+`"`) {
			t.Fatalf("no SAML login form: %.400s", body)
		}
		f.Set("login", "alice")
		f.Set("password", "alice-password")
		return f
	}
	post := func(f url.Values) (int, string) {
		t.Helper()
		resp, body := fetch(t, func() (*http.Response, error) { return c.PostForm(e.issuer+saml.PathLogin, f) })
		return resp.StatusCode, body
	}
	liveIDs := func() []string {
		t.Helper()
		live, err := e.store.Sessions(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range live {
			ids = append(ids, s.ID)
		}
		return ids
	}
	first := loginForm(&no)
	if status, body := post(first); status != http.StatusOK || !strings.Contains(body, "SAMLResponse") {
		t.Fatalf("SAML login: %d %.400s", status, body)
	}
	second := loginForm(&yes) // ForceAuthn: the form again, with a live session
	if status, body := post(second); status != http.StatusOK || !strings.Contains(body, "SAMLResponse") {
		t.Fatalf("SAML login with ForceAuthn: %d %.400s", status, body)
	}
	signedIn := liveIDs()
	if len(signedIn) != 1 {
		t.Fatalf("%d live sessions after the SAML logins, want 1", len(signedIn))
	}
	current := loginForm(&yes).Get("csrf") // the browser's CSRF token now (its form is never sent)
	for name, f := range map[string]url.Values{"first": first, "second": second} {
		f.Set("csrf", current)
		if status, body := post(f); status != http.StatusConflict || !strings.Contains(body, "already used") {
			t.Fatalf("the %s SAML login form sent again: %d %.300s", name, status, body)
		}
		if ids := liveIDs(); !slices.Equal(ids, signedIn) {
			t.Fatalf("live sessions after the %s form was sent again: %v, want %v", name, ids, signedIn)
		}
	}
}
