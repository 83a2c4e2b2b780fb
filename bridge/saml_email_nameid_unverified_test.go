package bridge_test

import (
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestSAMLEmailNameIDNotFromAnUnverifiedAddress (review s19 X19-10): an SP with
// name_id_format email knows its users by the NameID address. iMIS lets members edit their own
// e-mail address and verifies nothing (README: email_verified is false by default for that
// reason), and ownsEmail only refuses an address another *AMS record* has. A member who types
// an address no AMS record has (a colleague's, an SP-local administrator's, anyone the SP knew
// before single sign-on) is asserted to the SP as that address, and an SP keyed by e-mail
// signs them in as that user. Without the configuration saying the AMS verifies addresses
// (policies' email_verified: true), the bridge must not vouch for the address: refuse the
// e-mail NameID (or this SP's sign-in) rather than send it.
func TestSAMLEmailNameIDNotFromAnUnverifiedAddress(t *testing.T) {
	e, _, _, _ := samlEnv(t, func(c *bridge.Config) { c.Policy.EmailVerified = false }) // the default: the AMS does not verify addresses
	const taken = "ceo@events-local.example"                                            // an Events Hub account made before SSO; no AMS record has it
	e.dir.Update("alice", func(m *legacy.Member) { m.Email = taken })
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	// The account page's link: an IdP-initiated sign-in at the SP.
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/saml/start/events") })
	f := formFields(body)
	if f.Get("csrf") == "" || f.Get("id") == "" {
		// The SP registered with name_id_format email is unusable without email_verified.
		if !strings.Contains(body, "This app cannot be used right now") {
			t.Fatalf("neither the login page nor the unusable SP's page: %.400s", body)
		}
		return
	}
	_, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/saml/login", map[string][]string{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
			"login": {"alice"}, "password": {"alice-password"}})
	})
	if !strings.Contains(body, "SAMLResponse") {
		return // refused before any assertion: what this test asks
	}
	app := postToSP(t, c, body)
	if strings.Contains(app, "<p id=who>"+taken+"</p>") {
		t.Fatalf("the SP was told alice is %s, an address the AMS never verified", taken)
	}
}
