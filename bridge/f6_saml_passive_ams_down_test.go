package bridge_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// Review s25 Y-4 (SAML side): a passive AuthnRequest (IsPassive="true", SAML core 3.4.1: the
// IdP must not take visible control) from a signed-in member while the AMS cannot be reached
// was answered with the HTML "membership system unavailable" page, so the SP, which sent it
// from a background redirect, heard nothing. It gets a signed Response with the top-level
// status Responder (the IdP's fault: retry later), no assertion, and not NoPassive (the
// member is signed in; "not signed in" would be a wrong answer).
func TestF6SAMLPassiveWhileAMSDownAnswersTheSP(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body := samlAuthn(t, e, lms, c, nil, nil)
	f := formFields(body)
	resp, err := c.PostForm(e.issuer+saml.PathLogin, map[string][]string{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	passive := true
	e.dir.Down = true
	body = samlAuthn(t, e, lms, c, &passive, nil)
	e.dir.Down = false
	if !strings.Contains(body, `name="SAMLResponse"`) {
		t.Fatalf("passive request while the AMS is down: no SAML response to the SP: %.300s", body)
	}
	doc, err := base64.StdEncoding.DecodeString(formFields(body).Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(crewjam.StatusResponder)) || bytes.Contains(doc, []byte(crewjam.StatusNoPassive)) ||
		bytes.Contains(doc, []byte("Assertion")) {
		t.Fatalf("passive request while the AMS is down: %.800s, want the status Responder without NoPassive and no assertion", doc)
	}
	// Nothing was ended: with the AMS back the same passive request signs the member in.
	if body := samlAuthn(t, e, lms, c, &passive, nil); !strings.Contains(body, `name="SAMLResponse"`) {
		t.Fatalf("passive request once the AMS answers: %.300s", body)
	} else if doc, _ := base64.StdEncoding.DecodeString(formFields(body).Get("SAMLResponse")); !bytes.Contains(doc, []byte("Assertion")) {
		t.Fatalf("passive request once the AMS answers: no assertion: %.800s", doc)
	}
}
