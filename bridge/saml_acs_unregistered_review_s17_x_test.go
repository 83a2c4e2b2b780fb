package bridge_test

import (
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
)

// TestSAMLUnregisteredACSRefused (review s17, coverage; SAML profiles 4.1.4.1: the identity
// provider MUST ensure the assertion consumer service is one of the requester's): an
// AuthnRequest, even one the SP signed, naming an AssertionConsumerServiceURL (or an index) its
// metadata does not list gets the refusal page, and no SAMLResponse is posted anywhere, to a
// member already signed in or not. Nothing in the suite held this before (it passes on main:
// crewjam refuses it, refusal() names it).
func TestSAMLUnregisteredACSRefused(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	signInAtSP(t, e, c, lms) // a live session: a silent answer would post at once
	for name, edit := range map[string]func(*crewjam.AuthnRequest){
		"url": func(r *crewjam.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.example/acs" },
		"index": func(r *crewjam.AuthnRequest) {
			r.AssertionConsumerServiceURL = ""
			r.AssertionConsumerServiceIndex = "7"
		},
		"path": func(r *crewjam.AuthnRequest) { r.AssertionConsumerServiceURL = lms.srv.URL + "/saml/acs/../evil" },
	} {
		_, u := requestAt(t, e, lms, edit)
		resp, body := fetch(t, func() (*http.Response, error) { return c.Get(u) })
		if strings.Contains(body, "SAMLResponse") || resp.StatusCode != http.StatusBadRequest ||
			!strings.Contains(body, "unregistered assertion consumer service") {
			t.Errorf("%s: %d %.400s, want the refusal page and no SAMLResponse", name, resp.StatusCode, body)
		}
	}
}
