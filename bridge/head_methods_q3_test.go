package bridge_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestHeadWhereGetIsSafe (review s21 X2-1, its rest; RFC 9110 9.3.2): /userinfo and
// /end_session answer HEAD as GET without the body, and a HEAD at end_session signs nobody
// out (its GET only redirects to the sign-out page); /authorize, /saml/sso and /saml/slo
// refuse HEAD (405, Allow naming GET and POST) because their GETs act: a HEAD of the SP's
// LogoutRequest leaves it unconsumed and the member signed in, and the same request sent as
// GET afterwards still signs them out.
func TestHeadWhereGetIsSafe(t *testing.T) {
	lms := newSAMLSP(t)
	e := newEnvWith(t, true, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	})
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	tok, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("w"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	// send is the browser's request (its cookies), answered by the endpoint (no redirect followed).
	send := func(method, u string, header ...string) (*http.Response, string) {
		t.Helper()
		c := *b.Client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		req, _ := http.NewRequest(method, u, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	signedIn := func(when string) {
		t.Helper()
		if p := b.Get(e.issuer + "/account"); p.Status != http.StatusOK {
			t.Fatalf("%s: the member's session ended (/account %d)", when, p.Status)
		}
	}

	// userinfo: HEAD as GET, without the body.
	bearer := []string{"Authorization", "Bearer " + tok.AccessToken}
	get, getBody := send(http.MethodGet, e.issuer+"/userinfo", bearer...)
	head, headBody := send(http.MethodHead, e.issuer+"/userinfo", bearer...)
	if get.StatusCode != http.StatusOK || !strings.Contains(getBody, `"sub"`) || head.StatusCode != http.StatusOK ||
		headBody != "" || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
		t.Errorf("userinfo: GET %d %q, HEAD %d %q %q", get.StatusCode, getBody, head.StatusCode, head.Header.Get("Content-Type"), headBody)
	}
	if r, _ := send(http.MethodHead, e.issuer+"/userinfo"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("HEAD userinfo without a token: %d, want 401", r.StatusCode)
	}

	// end_session: HEAD answers the GET's redirect to the sign-out page, and ends nothing.
	hint := tok.Extra("id_token").(string)
	es := e.issuer + "/end_session?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {e.rp + "/signed-out"}}.Encode()
	head, headBody = send(http.MethodHead, es)
	if head.StatusCode != http.StatusFound || !strings.HasPrefix(head.Header.Get("Location"), "/logout?t=") || headBody != "" {
		t.Errorf("HEAD end_session: %d %q %q, want 302 to the sign-out page", head.StatusCode, head.Header.Get("Location"), headBody)
	}
	signedIn("after HEAD end_session")

	// authorize: HEAD refused, as OPTIONS and FOO.
	for _, m := range []string{http.MethodHead, http.MethodOptions, "FOO"} {
		r, _ := send(m, web.AuthCodeURL("h"))
		if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
			t.Errorf("%s /authorize: %d Allow %q, want 405 GET, POST", m, r.StatusCode, r.Header.Get("Allow"))
		}
	}

	// SAML: sign in at the SP (the browser's session: no password asked).
	req, err := lms.mw.ServiceProvider.MakeAuthenticationRequest(e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	u, err := req.Redirect("", &lms.mw.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := send(http.MethodHead, u.String()); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
		t.Errorf("HEAD /saml/sso: %d Allow %q, want 405 GET, POST", r.StatusCode, r.Header.Get("Allow"))
	}
	answer := samlAnswer(t, b, u.String())
	doc, _ := base64.StdEncoding.DecodeString(formFields(answer).Get("SAMLResponse"))
	m := regexp.MustCompile(`<saml:NameID[^>]*>([^<]+)</saml:NameID>`).FindSubmatch(doc)
	if m == nil {
		t.Fatalf("no assertion: %.300s / %.300s", doc, answer)
	}
	lr, err := lms.mw.ServiceProvider.MakeRedirectLogoutRequest(string(m[1]), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodHead, http.MethodPut, "FOO"} {
		if r, _ := send(method, lr.String()); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
			t.Errorf("%s /saml/slo: %d Allow %q, want 405 GET, POST", method, r.StatusCode, r.Header.Get("Allow"))
		}
	}
	signedIn("after HEAD /saml/slo")
	// The LogoutRequest the HEAD carried was not consumed: its GET signs the member out.
	b.Get(lr.String())
	if p := b.Get(e.issuer + "/account"); p.Status != http.StatusUnauthorized {
		t.Fatalf("the SP's LogoutRequest sent after its HEAD left the session (/account %d)", p.Status)
	}
	if r, _ := send(http.MethodHead, e.issuer+saml.PathMetadata); r.StatusCode != http.StatusOK {
		t.Errorf("HEAD /saml/metadata: %d", r.StatusCode)
	}
}

// samlAnswer follows the browser's sign-in at u (a live session: no login page) to the page
// that posts the SAMLResponse to the SP, and returns it.
func samlAnswer(t *testing.T, b *bridgetest.Browser, u string) string {
	t.Helper()
	p := b.Get(u)
	if !strings.Contains(p.Body, "SAMLResponse") {
		t.Fatalf("no SAMLResponse for a signed-in browser: %d %.300s", p.Status, p.Body)
	}
	return p.Body
}
