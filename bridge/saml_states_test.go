package bridge_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSAMLRequestStates drives a SAML sign-in's state machine from each entry point over HTTP:
// the AuthnRequest used twice, the waiting sign-in opened in a second browser, opened again once
// answered, and AuthnRequests whose signature was stripped or whose content was changed.
func TestSAMLRequestStates(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	type browser struct{ c *http.Client }
	newBrowser := func() *browser {
		jar, _ := cookiejar.New(nil)
		return &browser{c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	}
	get := func(b *browser, u string) (int, string, string) {
		t.Helper()
		resp, err := b.c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(body)
	}
	a := newBrowser()
	// The SP sends the browser to the bridge with a signed AuthnRequest (HTTP-Redirect).
	status, ssoURL, _ := get(a, lms.srv.URL+"/app")
	if status != http.StatusFound || !strings.HasPrefix(ssoURL, e.issuer+saml.PathSSO+"?") {
		t.Fatalf("SP redirect: %d %s", status, ssoURL)
	}
	// Stripped signature, changed content: refused before anything is stored.
	u, _ := url.Parse(ssoURL)
	q := u.Query()
	stripped := *u
	sq := url.Values{"SAMLRequest": q["SAMLRequest"], "RelayState": q["RelayState"]}
	stripped.RawQuery = sq.Encode()
	if status, _, body := get(newBrowser(), stripped.String()); status != http.StatusBadRequest || !strings.Contains(body, "signature missing or invalid") {
		t.Fatalf("unsigned request from a signing SP: %d %.300s", status, body)
	}
	changed := *u
	cq := u.Query()
	cq.Set("RelayState", cq.Get("RelayState")+"x") // covered by the query signature
	changed.RawQuery = cq.Encode()
	if status, _, _ := get(newBrowser(), changed.String()); status != http.StatusBadRequest {
		t.Fatalf("changed request: %d", status)
	}

	status, cont, _ := get(a, ssoURL)
	if status != http.StatusSeeOther || !strings.HasPrefix(cont, saml.PathContinue+"?id=") {
		t.Fatalf("sso: %d %s", status, cont)
	}
	// The same AuthnRequest again (a replay): refused.
	if status, _, body := get(newBrowser(), ssoURL); status != http.StatusConflict || !strings.Contains(body, "already used") {
		t.Fatalf("replayed AuthnRequest: %d %.300s", status, body)
	}
	// The first browser to open the sign-in binds it; another browser is refused.
	status, _, body := get(a, e.issuer+cont)
	if status != http.StatusOK || !strings.Contains(body, `action="`+saml.PathLogin+`"`) {
		t.Fatalf("continue: %d %.300s", status, body)
	}
	if status, _, body := get(newBrowser(), e.issuer+cont); status != http.StatusForbidden || !strings.Contains(body, "another browser") {
		t.Fatalf("continue in another browser: %d %.300s", status, body)
	}
	// Signed in: the response once; the sign-in opened again afterwards is used up.
	f := formFields(body)
	resp, err := a.c.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `name="SAMLResponse"`) {
		t.Fatalf("login: %d %.300s", resp.StatusCode, b)
	}
	if status, _, body := get(a, e.issuer+cont); status != http.StatusConflict || !strings.Contains(body, "already used") {
		t.Fatalf("continue after the response: %d %.300s", status, body)
	}
	// A second login post for the same sign-in: used up too.
	resp, err = a.c.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("second login post for an answered sign-in: %d", resp.StatusCode)
	}
	// Unknown sign-in ids: the expired page, the one every sign-in shows (authflow's, not a copy).
	if status, _, body := get(a, e.issuer+saml.PathContinue+"?id=nope"); status != http.StatusBadRequest ||
		!strings.Contains(body, "This sign-in has expired") || !strings.Contains(body, "or was opened in another browser") {
		t.Fatalf("unknown sign-in: %d %.300s", status, body)
	}
}
