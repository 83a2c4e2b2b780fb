package bridge_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// asks makes the SP ask for rac in its AuthnRequests and check the class it is answered with
// (crewjam's ValidateAuthnContextClassRef; nil: it asks for nothing).
func (sp *samlSP) asks(rac *crewjam.RequestedAuthnContext) {
	sp.mw.ServiceProvider.RequestedAuthnContext = rac
	// crewjam's SP checks the class for "exact" only.
	sp.mw.ServiceProvider.ValidateAuthnContextClassRef = rac != nil && (rac.Comparison == "" || rac.Comparison == "exact")
	sp.handler.Store(sp.handler.Load()) // publishes the change to the server's goroutines
}

var mfaContinueRe = regexp.MustCompile(`id="mfa-continue" href="([^"]+)"`)

// leaveSP drops c's session at sp (its cookie), so that /app asks the bridge again.
func leaveSP(t *testing.T, c *http.Client, sp *samlSP, cookie string) {
	t.Helper()
	u := mustURL(t, sp.srv.URL+"/")
	c.Jar.SetCookies(&u, []*http.Cookie{{Name: cookie, Value: "", Path: "/", MaxAge: -1}})
}

// samlResponseDoc is the decoded SAMLResponse of the bridge's response page body.
func samlResponseDoc(t *testing.T, body string) []byte {
	t.Helper()
	doc, err := base64.StdEncoding.DecodeString(formFields(body).Get("SAMLResponse"))
	if err != nil || len(doc) == 0 {
		t.Fatalf("no SAML response: %v %.600s", err, body)
	}
	return doc
}

// requestAt builds an AuthnRequest of sp as its middleware would, changed by edit, and returns
// its id and the HTTP-Redirect URL that carries it to the bridge.
func requestAt(t *testing.T, e *env, sp *samlSP, edit func(*crewjam.AuthnRequest)) (string, string) {
	t.Helper()
	req, err := sp.mw.ServiceProvider.MakeAuthenticationRequest(e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	edit(req)
	u, err := req.Redirect("", &sp.mw.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	return req.ID, u.String()
}

// TestSAMLRequestedAuthnContext (review s5 V5, second half; SAML core 3.3.2.2.1, 3.4.1.4): an
// SP's RequestedAuthnContext is kept with the waiting sign-in and honoured, through crewjam's
// real SP (which checks the class it gets): without one nothing changes; REFEDS MFA asked of a
// password session steps it up (a member without a second factor enrols one) and the
// assertion then says MFA; asked at sign-in, no session opens before the second factor; with
// IsPassive the answer is NoPassive; a class the bridge never meets is answered at once with
// a signed Requester/NoAuthnContext Response to the request, never Success; replays and
// out-of-order steps are refused.
func TestSAMLRequestedAuthnContext(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	ctx := context.Background()
	acs := mustURL(t, lms.srv.URL+"/saml/acs")
	status := func(t *testing.T, doc []byte, id string) (string, string) {
		t.Helper()
		var r crewjam.Response
		if err := xml.Unmarshal(doc, &r); err != nil {
			t.Fatalf("response: %v", err)
		}
		if r.InResponseTo != id {
			t.Fatalf("InResponseTo %q, want %q", r.InResponseTo, id)
		}
		// The SP checks the signature and the request id before the status.
		_, err := lms.mw.ServiceProvider.ParseXMLResponse(doc, []string{id}, acs)
		var bad crewjam.ErrBadStatus
		if !errors.As(err, &bad) {
			t.Fatalf("the SP read the response as %v, want a bad status (signature and request id accepted)", err)
		}
		second := ""
		if r.Status.StatusCode.StatusCode != nil {
			second = r.Status.StatusCode.StatusCode.Value
		}
		if strings.Contains(string(doc), "Assertion") {
			t.Fatalf("an error response carries an assertion: %.600s", doc)
		}
		return bad.Status, second
	}

	// No RequestedAuthnContext: as before (a password session is PasswordProtectedTransport).
	c1 := samlClient()
	_, body := fetch(t, func() (*http.Response, error) { return c1.Get(lms.srv.URL + "/app") })
	f := formFields(body)
	resp, body := fetch(t, func() (*http.Response, error) {
		return c1.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
			"login": {"alice"}, "password": {"alice-password"}})
	})
	if doc := samlResponseDoc(t, body); !strings.Contains(string(doc), saml.ClassPassword) {
		t.Fatalf("password sign-in without a requested context: %d %s %.600s", resp.StatusCode, resp.Request.URL, doc)
	}
	if app := postToSP(t, c1, body); !strings.Contains(app, "<p id=who>") {
		t.Fatalf("the SP did not sign alice in: %.400s", app)
	}
	n := sessionsOf(t, e, "alice")

	// A class the bridge never meets: Requester/NoAuthnContext at once, signed, in response to
	// the request; the SP signs nobody in with it; the same request again is refused.
	never := func(r *crewjam.AuthnRequest) {
		r.RequestedAuthnContext = &crewjam.RequestedAuthnContext{Comparison: "minimum",
			AuthnContextClassRefs: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard"}}
	}
	id, u := requestAt(t, e, lms, never)
	resp, body = fetch(t, func() (*http.Response, error) { return c1.Get(u) })
	if top, second := status(t, samlResponseDoc(t, body), id); top != crewjam.StatusRequester || second != crewjam.StatusNoAuthnContext {
		t.Fatalf("an impossible class: %s / %s", top, second)
	}
	if resp, _ := fetch(t, func() (*http.Response, error) { return c1.Get(u) }); resp.StatusCode != http.StatusConflict {
		t.Fatalf("the impossible request replayed: %d", resp.StatusCode)
	}
	// REFEDS MFA exactly, or better than a password: the same; an unknown comparison: Requester.
	for _, c := range []struct {
		comparison, class, second string
	}{
		{"exact", "https://example.org/ac/iris-scan", crewjam.StatusNoAuthnContext},
		{"better", saml.ClassMFA, crewjam.StatusNoAuthnContext},
		{"sideways", saml.ClassMFA, crewjam.StatusRequestUnsupported},
	} {
		id, u := requestAt(t, e, lms, func(r *crewjam.AuthnRequest) {
			r.RequestedAuthnContext = &crewjam.RequestedAuthnContext{Comparison: c.comparison, AuthnContextClassRefs: []string{c.class}}
		})
		_, body := fetch(t, func() (*http.Response, error) { return c1.Get(u) })
		if top, second := status(t, samlResponseDoc(t, body), id); top != crewjam.StatusRequester || second != c.second {
			t.Fatalf("%s %s: %s / %s, want Requester / %s", c.comparison, c.class, top, second, c.second)
		}
	}

	// REFEDS MFA with IsPassive and a password session: NoPassive, no step.
	passive := true
	id, u = requestAt(t, e, lms, func(r *crewjam.AuthnRequest) {
		r.IsPassive = &passive
		r.RequestedAuthnContext = &crewjam.RequestedAuthnContext{Comparison: "exact", AuthnContextClassRefs: []string{saml.ClassMFA}}
	})
	_, body = fetch(t, func() (*http.Response, error) { return c1.Get(u) })
	if top, second := status(t, samlResponseDoc(t, body), id); top != crewjam.StatusResponder || second != crewjam.StatusNoPassive {
		t.Fatalf("a passive MFA request of a password session: %s / %s", top, second)
	}

	// Less than the session has (maximum PasswordProtectedTransport): met, and said so.
	lms.asks(&crewjam.RequestedAuthnContext{Comparison: "exact", AuthnContextClassRefs: []string{saml.ClassPassword, saml.ClassUnspecified}})
	leaveSP(t, c1, lms, "lms_token")
	_, body = fetch(t, func() (*http.Response, error) { return c1.Get(lms.srv.URL + "/app") })
	if doc := samlResponseDoc(t, body); !strings.Contains(string(doc), saml.ClassPassword) {
		t.Fatalf("exact PasswordProtectedTransport of a password session: %.600s", doc)
	}
	if app := postToSP(t, c1, body); !strings.Contains(app, "<p id=who>") {
		t.Fatalf("the SP did not accept PasswordProtectedTransport: %.400s", app)
	}

	// REFEDS MFA asked of the password session (alice has no second factor, and nothing else
	// asks for one): the step-up, where she enrols; then the assertion says MFA and the SP
	// (checking the class) accepts it; same session.
	lms.asks(&crewjam.RequestedAuthnContext{Comparison: "exact", AuthnContextClassRefs: []string{saml.ClassMFA}})
	leaveSP(t, c1, lms, "lms_token")
	resp, body = fetch(t, func() (*http.Response, error) { return c1.Get(lms.srv.URL + "/app") })
	if resp.Request.URL.Path != "/login/mfa" || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("REFEDS MFA asked of a password session: %d %s %.400s", resp.StatusCode, resp.Request.URL, body)
	}
	stepURL := resp.Request.URL.String()
	body = enrolAtSAMLStep(t, e, c1, body)
	if doc := samlResponseDoc(t, body); !strings.Contains(string(doc), saml.ClassMFA) {
		t.Fatalf("after the step-up: %.600s", doc)
	}
	if app := postToSP(t, c1, body); !strings.Contains(app, "<p id=who>") {
		t.Fatalf("the SP did not accept the MFA assertion: %.400s", app)
	}
	if got := sessionsOf(t, e, "alice"); got != n {
		t.Fatalf("the step-up opened a session: %d, %d before", got, n)
	}
	// Out of order: the step again, and the sign-in it went on to again.
	if resp, body := fetch(t, func() (*http.Response, error) { return c1.Get(stepURL) }); resp.StatusCode != http.StatusConflict {
		t.Fatalf("the passed step again: %d %.300s", resp.StatusCode, body)
	}

	// Asked at sign-in, in a new browser, of a member without a second factor: the password,
	// then the step (enrolment) with no session yet, then MFA.
	sub := identitySubject(t, e, mustMember(t, e, "alice").Key)
	if err := e.store.DeleteTOTP(ctx, sub); err != nil {
		t.Fatal(err)
	}
	c2 := samlClient()
	_, body = fetch(t, func() (*http.Response, error) { return c2.Get(lms.srv.URL + "/app") })
	f = formFields(body)
	resp, body = fetch(t, func() (*http.Response, error) {
		return c2.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
			"login": {"alice"}, "password": {"alice-password"}})
	})
	if resp.Request.URL.Path != "/login/mfa" || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("REFEDS MFA asked at sign-in: %d %s %.400s", resp.StatusCode, resp.Request.URL, body)
	}
	if got := sessionsOf(t, e, "alice"); got != n {
		t.Fatalf("a session before the second factor: %d, %d before", got, n)
	}
	// The step cannot be skipped.
	step := formFields(body)
	if resp, _ := fetch(t, func() (*http.Response, error) {
		return c2.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {step.Get("csrf")}, "c": {step.Get("c")}, "method": {"continue"}})
	}); resp.StatusCode != http.StatusBadRequest || sessionsOf(t, e, "alice") != n {
		t.Fatalf("continue without a second factor: %d", resp.StatusCode)
	}
	body = enrolAtSAMLStep(t, e, c2, body)
	if doc := samlResponseDoc(t, body); !strings.Contains(string(doc), saml.ClassMFA) {
		t.Fatalf("after the second factor: %.600s", doc)
	}
	if app := postToSP(t, c2, body); !strings.Contains(app, "<p id=who>") {
		t.Fatalf("the SP did not accept the MFA assertion: %.400s", app)
	}
	if got := sessionsOf(t, e, "alice"); got != n+1 {
		t.Fatalf("sessions after the second factor: %d, %d before", got, n)
	}
	// The MFA session meets "minimum PasswordProtectedTransport" with MFA, and "maximum" with
	// the password class it also has.
	for _, c := range []struct{ comparison, want string }{{"minimum", saml.ClassMFA}, {"maximum", saml.ClassPassword}} {
		lms.asks(&crewjam.RequestedAuthnContext{Comparison: c.comparison, AuthnContextClassRefs: []string{saml.ClassPassword}})
		leaveSP(t, c2, lms, "lms_token")
		_, body = fetch(t, func() (*http.Response, error) { return c2.Get(lms.srv.URL + "/app") })
		if doc := samlResponseDoc(t, body); !strings.Contains(string(doc), c.want) {
			t.Fatalf("%s PasswordProtectedTransport of an MFA session: want %s: %.600s", c.comparison, c.want, doc)
		}
	}
}

// enrolAtSAMLStep enrols an authenticator app at the second-factor step page body (the member
// has none) with c, and returns the page it goes on to (the SAML response page).
func enrolAtSAMLStep(t *testing.T, e *env, c *http.Client, body string) string {
	t.Helper()
	m := totpSecretRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no enrolment at the step: %.600s", body)
	}
	step := formFields(body)
	_, done := fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {step.Get("csrf")}, "c": {step.Get("c")},
			"method": {"enrol"}, "code": {totpCode(t, m[1], 0)}})
	})
	if !recoveryCodeRe.MatchString(done) {
		t.Fatalf("no recovery codes after enrolment: %.500s", done)
	}
	next := mfaContinueRe.FindStringSubmatch(done)
	if next == nil {
		t.Fatalf("no way on after enrolment: %.500s", done)
	}
	_, page := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + strings.ReplaceAll(next[1], "&amp;", "&")) })
	return page
}

// TestSAMLAuthnContextDeclRef (SAML core 3.3.2.2.1, 3.4.1.4): an AuthnRequest whose
// RequestedAuthnContext asks for authentication context declarations (AuthnContextDeclRef) is
// answered at once with a signed Requester/NoAuthnContext Response: the bridge has no
// declarations, so it can never meet one. Before, the request was read as asking nothing, and a
// member with a session was signed in (Success). Through crewjam's SP, which checks the answer's
// signature and InResponseTo.
func TestSAMLAuthnContextDeclRef(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	acs := mustURL(t, lms.srv.URL+"/saml/acs")
	c := samlClient()
	signInAtSP(t, e, c, lms) // a live session, which would answer a request of nothing

	for _, comparison := range []string{"", "exact", "minimum"} {
		req, err := lms.mw.ServiceProvider.MakeAuthenticationRequest(e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		el := req.Element()
		rac := el.CreateElement("samlp:RequestedAuthnContext")
		if comparison != "" {
			rac.CreateAttr("Comparison", comparison)
		}
		rac.CreateElement("saml:AuthnContextDeclRef").SetText("https://example.org/ac/declarations/otp-over-tls")
		doc := etree.NewDocument()
		doc.SetRoot(el)
		raw, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		var deflated bytes.Buffer
		fw, _ := flate.NewWriter(&deflated, flate.BestCompression)
		fw.Write(raw)
		fw.Close()
		q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflated.Bytes())) +
			"&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
		sum := sha256.Sum256([]byte(q))
		sig, err := rsa.SignPKCS1v15(rand.Reader, lms.key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		u := e.issuer + saml.PathSSO + "?" + q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))

		_, body := fetch(t, func() (*http.Response, error) { return c.Get(u) })
		resp := samlResponseDoc(t, body)
		var r crewjam.Response
		if err := xml.Unmarshal(resp, &r); err != nil {
			t.Fatalf("response: %v", err)
		}
		second := ""
		if r.Status.StatusCode.StatusCode != nil {
			second = r.Status.StatusCode.StatusCode.Value
		}
		if r.InResponseTo != req.ID || r.Status.StatusCode.Value != crewjam.StatusRequester || second != crewjam.StatusNoAuthnContext ||
			strings.Contains(string(resp), "Assertion") {
			t.Fatalf("comparison %q: %s / %s to %q (want Requester/NoAuthnContext to %s): %.600s", comparison,
				r.Status.StatusCode.Value, second, r.InResponseTo, req.ID, resp)
		}
		var bad crewjam.ErrBadStatus
		if _, err := lms.mw.ServiceProvider.ParseXMLResponse(resp, []string{req.ID}, acs); !errors.As(err, &bad) {
			t.Fatalf("the SP read the answer as %v, want a bad status (signature and request id accepted)", err)
		}
	}
}
