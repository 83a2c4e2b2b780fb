package bridge_test

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
)

// TestSAMLRequestSubjectNotIgnored (review s10 V1; SAML core 3.4.1, 3.4.1.4, errata E75): an
// AuthnRequest that names a <saml:Subject> asks for an assertion about that principal. The
// bridge cannot hold the waiting sign-in to it (the request's Subject is not kept), so it
// answers such a request at once with a signed Responder/RequestUnsupported Response and no
// assertion. Before, the Subject was dropped and the SP got an assertion about whoever was
// signed in in the browser (here alice, for a request about another principal).
func TestSAMLRequestSubjectNotIgnored(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	c := samlClient()
	signInAtSP(t, e, c, lms) // a live session: the request below is answered at once
	acs := mustURL(t, lms.srv.URL+"/saml/acs")
	alice := identitySubject(t, e, mustMember(t, e, "alice").Key)
	for _, tc := range []struct{ name, nameID string }{
		{"another principal", "someone-else"},
		{"the member signed in", alice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, u := requestAt(t, e, lms, func(r *crewjam.AuthnRequest) {
				r.Subject = &crewjam.Subject{NameID: &crewjam.NameID{Format: string(crewjam.PersistentNameIDFormat), Value: tc.nameID}}
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
			second := ""
			if r.Status.StatusCode.StatusCode != nil {
				second = r.Status.StatusCode.StatusCode.Value
			}
			if r.InResponseTo != id || r.Status.StatusCode.Value != crewjam.StatusResponder || second != crewjam.StatusRequestUnsupported ||
				strings.Contains(string(doc), "Assertion") {
				t.Fatalf("%s / %s to %q, want Responder/RequestUnsupported to %s without an assertion: %.600s",
					r.Status.StatusCode.Value, second, r.InResponseTo, id, doc)
			}
			var bad crewjam.ErrBadStatus
			if _, err := lms.mw.ServiceProvider.ParseXMLResponse(doc, []string{id}, acs); !errors.As(err, &bad) {
				t.Fatalf("the SP read the answer as %v, want a bad status (signature and request id accepted)", err)
			}
		})
	}
}
