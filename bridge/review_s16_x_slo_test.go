package bridge_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSAMLPartialLogoutReported (review s16 X; SAML core 3.7.3.2): an SP's own LogoutRequest
// ends the session, and the bridge, as session authority, sends the session's other SPs their
// LogoutRequests through the browser. When one of them does not confirm (the member goes on
// without its answer), the LogoutResponse to the SP that asked "MUST include ... a second-level
// status code of urn:oasis:names:tc:SAML:2.0:status:PartialLogout". Over HTTP, crewjam's SPs.
func TestSAMLPartialLogoutReported(t *testing.T) {
	e, lms, jobs, _, _ := chainEnv(t)
	c := samlClient()
	signInAtSP(t, e, c, lms)
	signInAtSP(t, e, c, jobs)
	// lms's own sign-out: its LogoutRequest to the bridge, followed to the chain's step for jobs
	// (a posted form to jobs's single logout service).
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(lms.srv.URL + "/logout") })
	if chainForm.FindStringSubmatch(body) == nil || !strings.Contains(body, "Job Board") {
		t.Fatalf("no chain step for jobs after lms's LogoutRequest: %.1200s", body)
	}
	// jobs never answers: the member goes on without it.
	noFollow := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	loc := e.issuer + saml.PathSLONext + "?skip=0"
	var answer *url.URL
	for range 5 {
		resp, _ := fetch(t, func() (*http.Response, error) { return noFollow.Get(loc) })
		l, err := resp.Location()
		if err != nil {
			t.Fatalf("no redirect from %s (%d)", loc, resp.StatusCode)
		}
		if l.Query().Get("SAMLResponse") != "" {
			answer = l
			break
		}
		loc = l.String()
	}
	if answer == nil || !strings.HasPrefix(answer.String(), lms.srv.URL) {
		t.Fatalf("no LogoutResponse sent to lms (last %s)", loc)
	}
	deflated, err := base64.StdEncoding.DecodeString(answer.Query().Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	var resp crewjam.LogoutResponse
	if err := xml.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	sc := resp.Status.StatusCode
	if sc.StatusCode == nil || sc.StatusCode.Value != "urn:oasis:names:tc:SAML:2.0:status:PartialLogout" {
		t.Fatalf("lms is told %q with no PartialLogout second-level status, though jobs never confirmed its logout: %s", sc.Value, raw)
	}
}
