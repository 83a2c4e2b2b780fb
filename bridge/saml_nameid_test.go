package bridge_test

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
)

// TestSAMLNameIDPolicy (SAML core 3.4.1.1, 8.3): the NameID is of the format the AuthnRequest's
// NameIDPolicy asks for: the SP's own (persistent for lms, e-mail for events) when it names
// none, unspecified or that one; a fresh transient identifier, used once, when it asks for
// transient; any other format, or another namespace (SPNameQualifier), is answered at once with
// a signed Requester/InvalidNameIDPolicy Response and no assertion. Before, every request got
// the SP's own format, whatever it asked for (mod_auth_mellon, which asks for transient by
// default, got the member's persistent subject). Through crewjam's SP, which checks the answer.
func TestSAMLNameIDPolicy(t *testing.T) {
	e, lms, events, _ := samlEnv(t)
	c := samlClient()
	signInAtSP(t, e, c, lms) // a live session: every request below is answered at once
	subject := identitySubject(t, e, mustMember(t, e, "alice").Key)
	const (
		transient = string(crewjam.TransientNameIDFormat)
		email     = string(crewjam.EmailAddressNameIDFormat)
		pers      = string(crewjam.PersistentNameIDFormat)
		refused   = "refused"
	)
	str := func(s string) *string { return &s }
	seen := map[string]bool{}
	for _, tc := range []struct {
		name       string
		sp         *samlSP
		format     *string // nil: a NameIDPolicy without Format; "-": no NameIDPolicy
		qualifier  *string
		wantFormat string // or refused
		wantValue  string // "": checked to be a fresh transient identifier
	}{
		{"no policy", lms, str("-"), nil, pers, subject},
		{"policy without format", lms, nil, nil, pers, subject},
		{"unspecified", lms, str(string(crewjam.UnspecifiedNameIDFormat)), nil, pers, subject},
		{"persistent", lms, str(pers), nil, pers, subject},
		{"transient", lms, str(transient), nil, transient, ""},
		{"transient again: another identifier", lms, str(transient), nil, transient, ""},
		{"its own entity id as SPNameQualifier", lms, str(pers), str(lms.entityID()), pers, subject},
		{"e-mail from a persistent SP", lms, str(email), nil, refused, ""},
		{"encrypted identifiers", lms, str("urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted"), nil, refused, ""},
		{"X.509 subject", lms, str("urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"), nil, refused, ""},
		{"another namespace", lms, str(pers), str("https://affiliation.example.org"), refused, ""},
		{"e-mail SP, unspecified", events, str(string(crewjam.UnspecifiedNameIDFormat)), nil, email, "alice@example.org"},
		{"e-mail SP, e-mail", events, str(email), nil, email, "alice@example.org"},
		{"e-mail SP, transient", events, str(transient), nil, transient, ""},
		{"e-mail SP, persistent", events, str(pers), nil, refused, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, u := requestAt(t, e, tc.sp, func(r *crewjam.AuthnRequest) {
				switch {
				case tc.format != nil && *tc.format == "-":
					r.NameIDPolicy = nil
				default:
					r.NameIDPolicy = &crewjam.NameIDPolicy{Format: tc.format, SPNameQualifier: tc.qualifier}
				}
			})
			resp, body := fetch(t, func() (*http.Response, error) { return c.Get(u) })
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d: %.400s", resp.StatusCode, body)
			}
			doc := samlResponseDoc(t, body)
			var r crewjam.Response
			if err := xml.Unmarshal(doc, &r); err != nil {
				t.Fatal(err)
			}
			acs := mustURL(t, tc.sp.srv.URL+"/saml/acs")
			if tc.wantFormat == refused {
				second := ""
				if r.Status.StatusCode.StatusCode != nil {
					second = r.Status.StatusCode.StatusCode.Value
				}
				if r.InResponseTo != id || r.Status.StatusCode.Value != crewjam.StatusRequester || second != crewjam.StatusInvalidNameIDPolicy ||
					strings.Contains(string(doc), "Assertion") {
					t.Fatalf("%s / %s to %q, want Requester/InvalidNameIDPolicy to %s without assertion: %.600s",
						r.Status.StatusCode.Value, second, r.InResponseTo, id, doc)
				}
				var bad crewjam.ErrBadStatus
				if _, err := tc.sp.mw.ServiceProvider.ParseXMLResponse(doc, []string{id}, acs); !errors.As(err, &bad) {
					t.Fatalf("the SP read the answer as %v, want a bad status (signature and request id accepted)", err)
				}
				return
			}
			a, err := tc.sp.mw.ServiceProvider.ParseXMLResponse(doc, []string{id}, acs)
			if err != nil {
				t.Fatalf("the SP refused the response: %v: %.600s", err, doc)
			}
			n := a.Subject.NameID
			if n == nil || n.Format != tc.wantFormat {
				t.Fatalf("NameID %+v, want format %s", n, tc.wantFormat)
			}
			switch {
			case tc.wantValue != "" && n.Value != tc.wantValue:
				t.Fatalf("NameID %q, want %q", n.Value, tc.wantValue)
			case tc.wantValue == "" && (n.Value == subject || strings.Contains(n.Value, "alice") || len(n.Value) < 32 || seen[n.Value]):
				t.Fatalf("transient NameID %q is not a fresh opaque identifier", n.Value)
			}
			seen[n.Value] = true
		})
	}
}
