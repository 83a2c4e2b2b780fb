package bridge_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSAMLResponseAsAStrictSPReadsIt (review s19 X, brief item 4; SAML core 2.3.3, 2.5, 3.2.2,
// profiles 4.1.4.2 and 4.1.4.3): the Response to an SP-initiated sign-in, read element by element
// as a strict SP does: Response and Assertion each signed (a ds:Signature child, the first after
// Issuer), both issued by the IdP's entity id; Destination, the bearer SubjectConfirmationData's
// Recipient and the ACS the form posts to are one URL; InResponseTo on the Response and on the
// confirmation data is the same non-empty request id; the confirmation data has NotOnOrAfter and
// no NotBefore (4.1.4.2: MUST NOT); the Audience is the SP's entity id; the validity windows are
// short (NotOnOrAfter at most five minutes after IssueInstant); an AuthnStatement with a
// SessionIndex.
func TestSAMLResponseAsAStrictSPReadsIt(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	_, acs, f := samlResponse(t, e, lms)
	raw, err := base64.StdEncoding.DecodeString(f.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	idp := e.issuer + saml.PathMetadata
	resp := doc.Root()
	if resp == nil || resp.Tag != "Response" {
		t.Fatalf("root %v", resp)
	}
	signedAfterIssuer := func(el *etree.Element, what string) {
		t.Helper()
		kids := el.ChildElements()
		if len(kids) < 2 || kids[0].Tag != "Issuer" || kids[0].Text() != idp || kids[1].Tag != "Signature" {
			t.Errorf("%s: want Issuer %q then ds:Signature as its first children, got %v", what, idp, tags(kids))
		}
	}
	signedAfterIssuer(resp, "Response")
	if d := resp.SelectAttrValue("Destination", ""); d != acs {
		t.Errorf("Destination %q, ACS %q", d, acs)
	}
	irt := resp.SelectAttrValue("InResponseTo", "")
	if irt == "" {
		t.Error("Response without InResponseTo to an SP-initiated request")
	}
	assertions := resp.SelectElements("Assertion")
	if len(assertions) != 1 {
		t.Fatalf("%d assertions", len(assertions))
	}
	a := assertions[0]
	signedAfterIssuer(a, "Assertion")
	issued, err := time.Parse(time.RFC3339, a.SelectAttrValue("IssueInstant", ""))
	if err != nil {
		t.Fatalf("IssueInstant: %v", err)
	}
	scd := a.FindElement("./Subject/SubjectConfirmation[@Method='urn:oasis:names:tc:SAML:2.0:cm:bearer']/SubjectConfirmationData")
	if scd == nil {
		t.Fatal("no bearer SubjectConfirmationData")
	}
	if r := scd.SelectAttrValue("Recipient", ""); r != acs {
		t.Errorf("Recipient %q, ACS %q", r, acs)
	}
	if got := scd.SelectAttrValue("InResponseTo", ""); got != irt {
		t.Errorf("SubjectConfirmationData InResponseTo %q, Response's %q", got, irt)
	}
	if scd.SelectAttr("NotBefore") != nil {
		t.Error("bearer SubjectConfirmationData has NotBefore (profiles 4.1.4.2: MUST NOT)")
	}
	for _, where := range []*etree.Element{scd, a.FindElement("./Conditions")} {
		if where == nil {
			t.Fatal("no Conditions")
		}
		until, err := time.Parse(time.RFC3339, where.SelectAttrValue("NotOnOrAfter", ""))
		if err != nil || until.Sub(issued) <= 0 || until.Sub(issued) > 5*time.Minute {
			t.Errorf("%s NotOnOrAfter %v (%v after IssueInstant)", where.Tag, until, until.Sub(issued))
		}
	}
	if aud := a.FindElement("./Conditions/AudienceRestriction/Audience"); aud == nil || aud.Text() != lms.entityID() {
		t.Errorf("Audience %v, want %q", aud, lms.entityID())
	}
	if s := a.FindElement("./AuthnStatement"); s == nil || s.SelectAttrValue("SessionIndex", "") == "" {
		t.Error("no AuthnStatement with a SessionIndex")
	}
}

func tags(els []*etree.Element) []string {
	out := make([]string, len(els))
	for i, el := range els {
		out[i] = el.Tag
	}
	return out
}
