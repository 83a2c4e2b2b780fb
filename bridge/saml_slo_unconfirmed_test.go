package bridge_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestSAMLFrontChannelUnconfirmed: a browser single logout that its SP does not confirm (it
// answers with a status other than Success, or the member goes on without its answer) shows in
// the outbox view as a dead letter of the SAML logout channel, naming the SP, the member and
// the reason, like a SOAP logout that failed; before, it was only logged. The chain still goes
// on to the signed-out page. Over HTTP, with crewjam's SPs.
func TestSAMLFrontChannelUnconfirmed(t *testing.T) {
	e, lms, jobs, _, _ := chainEnv(t)
	c := samlClient()
	signInAtSP(t, e, c, lms)
	signInAtSP(t, e, c, jobs)
	subject := identitySubject(t, e, mustMember(t, e, "alice").Key)
	get := func(u string) (*http.Response, string) {
		t.Helper()
		return fetch(t, func() (*http.Response, error) { return c.Get(u) })
	}

	_, body := get(e.issuer + "/logout")
	f := formFields(body)
	_, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/logout", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
	})
	m := chainRedirect.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no step for lms: %.1200s", body)
	}
	toLMS := mustURL(t, html.UnescapeString(m[1]))
	deflated, _ := base64.StdEncoding.DecodeString(toLMS.Query().Get("SAMLRequest"))
	raw, _ := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	var lr crewjam.LogoutRequest
	if err := xml.Unmarshal(raw, &lr); err != nil {
		t.Fatal(err)
	}
	// lms answers, signed, that it could not sign the member out.
	u, err := lms.mw.ServiceProvider.MakeRedirectLogoutResponseWithStatus(lr.ID, toLMS.Query().Get("RelayState"),
		crewjam.Status{StatusCode: crewjam.StatusCode{Value: crewjam.StatusResponder}})
	if err != nil {
		t.Fatal(err)
	}
	_, body = get(u.String())
	if chainForm.FindStringSubmatch(body) == nil || !strings.Contains(body, "Job Board") {
		t.Fatalf("the chain did not go on to jobs: %.1200s", body)
	}
	// jobs never answers: the member goes on without it (the page's link).
	resp, body := get(e.issuer + saml.PathSLONext + "?skip=" + strconv.Itoa(1))
	if resp.Request.URL.Path != "/logout/done" || !strings.Contains(body, `id="signed-out"`) {
		t.Fatalf("the chain did not end on the signed-out page: %s %.600s", resp.Request.URL, body)
	}

	for sp, reason := range map[string]string{"lms": "the LogoutResponse's status is " + crewjam.StatusResponder,
		"jobs": "no LogoutResponse the bridge accepts came back"} {
		var dead *store.OutboxEvent
		for deadline := time.Now().Add(20 * time.Second); dead == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, err := e.bridge.Shadow().DeliverDue(t.Context()); err != nil {
				t.Fatal(err)
			}
			for _, ev := range outboxEvents(t, e, sp) {
				if ev.Type == saml.SLOUnconfirmedType && ev.State == store.OutboxDead {
					dead = ev
				}
			}
		}
		if dead == nil {
			for _, ev := range outboxEvents(t, e, sp) {
				t.Logf("%+v", ev)
			}
			t.Fatalf("%s: no dead letter for the unconfirmed logout", sp)
		}
		// The operator sees it in the outbox view, with the reason.
		st, err := e.bridge.Admin().Outbox(t.Context(), "test")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(st.Dead, func(d admin.OutboxEventInfo) bool { return d.ID == dead.ID && d.LastError == dead.LastError }) {
			t.Errorf("%s: dead event %s not in the outbox view", sp, dead.ID)
		}
		if dead.Channel != saml.SLOChannel || dead.Subject != subject || !strings.Contains(dead.LastError, reason) || dead.Attempts != 1 {
			t.Errorf("%s: %+v, want channel %s, subject %s, one attempt, an error saying %q", sp, dead, saml.SLOChannel, subject, reason)
		}
	}
}
