package bridge_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// soapSP is a crewjam SP that also answers back-channel LogoutRequests (SOAP binding) at
// /saml/soap-slo with crewjam's own SOAP logout code (which requires the IdP's enveloped
// signature); the first fail requests are answered 503.
type soapSP struct {
	*samlSP
	fail atomic.Int32
	mu   sync.Mutex
	got  []*crewjam.LogoutRequest
	errs []error
}

func (s *soapSP) requests() ([]*crewjam.LogoutRequest, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*crewjam.LogoutRequest(nil), s.got...), append([]error(nil), s.errs...)
}

// startSOAP serves the SP and registers it with the bridge from its metadata, which lists a
// SOAP SingleLogoutService besides the HTTP-Redirect one.
func startSOAP(t *testing.T, e *env, sp *samlSP) *soapSP {
	t.Helper()
	s := &soapSP{samlSP: sp}
	sp.start(t, e, crewjam.HTTPRedirectBinding, "soap_token")
	mux := sp.handler.Load()
	mux.HandleFunc("/saml/soap-slo", func(w http.ResponseWriter, r *http.Request) {
		if s.fail.Add(-1) >= 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		lr, err := sp.mw.ServiceProvider.ValidateSOAPLogoutRequest(r)
		s.mu.Lock()
		if ire := (*crewjam.InvalidResponseError)(nil); errors.As(err, &ire) {
			s.errs = append(s.errs, ire.PrivateErr)
		} else if err != nil {
			s.errs = append(s.errs, err)
		} else {
			s.got = append(s.got, lr)
		}
		s.mu.Unlock()
		if err != nil {
			_ = crewjam.WriteSOAPFault(w, "invalid request")
			return
		}
		resp, err := sp.mw.ServiceProvider.MakeSOAPLogoutResponse(lr.ID, crewjam.Status{StatusCode: crewjam.StatusCode{Value: crewjam.StatusSuccess}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = crewjam.WriteSOAPLogoutResponse(w, resp)
	})
	sp.handler.Store(mux)
	md := sp.mw.ServiceProvider.Metadata()
	md.SPSSODescriptors[0].SingleLogoutServices = append(md.SPSSODescriptors[0].SingleLogoutServices,
		crewjam.Endpoint{Binding: crewjam.SOAPBinding, Location: sp.srv.URL + "/saml/soap-slo"})
	raw, err := xml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := saml.NewRegistry(config.SAMLConfig{}, e.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(t.Context(), config.SAMLServiceProvider{ID: "soapapp", Name: "SOAP App"}, raw, time.Now()); err != nil {
		t.Fatalf("register the SOAP SP: %v", err)
	}
	return s
}

var sessionIndexAttr = regexp.MustCompile(`SessionIndex=([^;<]+)`)

// signInAtSP signs c in at sp's /app (the login page when c has no bridge session) and returns
// the SessionIndex the SP got.
func signInAtSP(t *testing.T, e *env, c *http.Client, sp *samlSP) string {
	t.Helper()
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(sp.srv.URL + "/app") })
	if f := formFields(body); f.Get("login") == "" && f.Get("csrf") != "" && f.Get("id") != "" {
		_, body = fetch(t, func() (*http.Response, error) {
			return c.PostForm(e.issuer+saml.PathLogin, map[string][]string{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
				"login": {"alice"}, "password": {"alice-password"}})
		})
	}
	if strings.Contains(body, `action="/login/mfa"`) {
		// The one-time notice of a factor reset: go on.
		f := formFields(body)
		_, body = fetch(t, func() (*http.Response, error) {
			return c.PostForm(e.issuer+"/login/mfa", map[string][]string{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"continue"}})
		})
	}
	app := postToSP(t, c, body)
	m := sessionIndexAttr.FindStringSubmatch(app)
	if !strings.Contains(app, "<p id=who>") || m == nil {
		t.Fatalf("not signed in at %s: %.400s", sp.srv.URL, app)
	}
	return m[1]
}

// TestSAMLSOAPSingleLogout (SAML profiles 4.4, SOAP binding): a session that ends elsewhere (an
// administrator's factor reset; the sign-out page) sends each SP it signed into that lists a
// SOAP SingleLogoutService a signed LogoutRequest naming the member and the session, through
// the outbox: retried after a failure, accepted by crewjam's SP (which checks the IdP's
// signature). An SP with only the HTTP-Redirect binding gets nothing on the back channel, and
// the SOAP SP gets no front-channel frame.
func TestSAMLSOAPSingleLogout(t *testing.T) {
	soapApp := newSAMLSP(t)
	e, lms, _, _ := samlEnv(t, func(c *bridge.Config) {
		c.Admin.Token = adminToken
		c.Shadow.Config.BackoffMin, c.Shadow.Config.BackoffMax = time.Millisecond, time.Millisecond
	})
	sp := startSOAP(t, e, soapApp)
	sp.fail.Store(1) // the first delivery fails: it is retried
	ctx := context.Background()
	var subject string

	// until delivers due events until sp has n requests (a liveness bound, not a timing check).
	until := func(n int) []*crewjam.LogoutRequest {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := e.bridge.Shadow().DeliverDue(ctx); err != nil {
				t.Fatalf("deliver: %v", err)
			}
			if got, errs := sp.requests(); len(errs) > 0 {
				t.Fatalf("the SP refused a LogoutRequest: %v", errs)
			} else if len(got) >= n {
				return got
			}
		}
		t.Fatalf("the SP never got LogoutRequest %d", n)
		return nil
	}
	check := func(lr *crewjam.LogoutRequest, index string) {
		t.Helper()
		idx := lr.AllSessionIndexes()
		if lr.NameID == nil || lr.NameID.Value != subject || len(idx) != 1 || idx[0].Value != index {
			t.Fatalf("LogoutRequest names %+v %+v, want %s / %s", lr.NameID, idx, subject, index)
		}
	}

	// Signed in at the SOAP SP and at lms (HTTP-Redirect only); an administrator resets alice's
	// factors, which ends her sessions.
	c := samlClient()
	index := signInAtSP(t, e, c, soapApp)
	subject = identitySubject(t, e, mustMember(t, e, "alice").Key)
	if lmsIndex := signInAtSP(t, e, c, lms); lmsIndex != index {
		t.Fatalf("one session, two SessionIndexes: %s, %s", index, lmsIndex)
	}
	resetFactors(t, e, "alice")
	if n := sessionsOf(t, e, "alice"); n != 0 {
		t.Fatalf("%d sessions after the reset", n)
	}
	got := until(1)
	check(got[0], index)
	if sp.fail.Load() >= 0 {
		t.Fatal("the first delivery did not fail: no retry was tested")
	}

	// Signed in again; the member signs out at the bridge: the SOAP SP is told on the back
	// channel, and only lms gets a frame.
	c = samlClient()
	index = signInAtSP(t, e, c, soapApp)
	signInAtSP(t, e, c, lms)
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/logout") })
	f := formFields(body)
	_, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/logout", map[string][]string{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
	})
	if !strings.Contains(body, lms.srv.URL+"/saml/slo?") || strings.Contains(body, soapApp.srv.URL) {
		t.Fatalf("the signed-out page's frames: %.1500s", body)
	}
	got = until(2)
	check(got[1], index)
	if len(got) != 2 {
		t.Fatalf("%d LogoutRequests, want 2", len(got))
	}
}
