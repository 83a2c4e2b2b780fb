package bridge_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// soapSP is a crewjam SP that also answers back-channel LogoutRequests (SOAP binding) at
// /saml/soap-slo with crewjam's own SOAP logout code (which requires the IdP's enveloped
// signature); the first fail requests are answered 503.
type soapSP struct {
	*samlSP
	settings config.SAMLServiceProvider
	fail     atomic.Int32
	// answer, when set, makes the SP's answer to a valid LogoutRequest (default: crewjam's
	// signed Success).
	answer atomic.Pointer[func(*crewjam.LogoutRequest) (*crewjam.LogoutResponse, error)]
	mu     sync.Mutex
	got    []*crewjam.LogoutRequest
	errs   []error
}

func (s *soapSP) Settings() config.SAMLServiceProvider { return s.settings }

func (s *soapSP) requests() ([]*crewjam.LogoutRequest, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*crewjam.LogoutRequest(nil), s.got...), append([]error(nil), s.errs...)
}

// startSOAP serves the SP and registers it with the bridge from its metadata, which lists a
// SOAP SingleLogoutService besides the HTTP-Redirect one.
func startSOAP(t *testing.T, e *env, sp *samlSP) *soapSP {
	t.Helper()
	return startSOAPAs(t, e, sp, config.SAMLServiceProvider{ID: "soapapp", Name: "SOAP App"})
}

// startSOAPAs is startSOAP with the SP's settings in the bridge.
func startSOAPAs(t *testing.T, e *env, sp *samlSP, settings config.SAMLServiceProvider) *soapSP {
	t.Helper()
	settings.AllowInsecureSOAPSLO = true // the SP's SOAP service is plain http on 127.0.0.1
	s := serveSOAP(t, e, sp, settings)
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
	if _, err := reg.Register(t.Context(), settings, raw, time.Now()); err != nil {
		t.Fatalf("register the SOAP SP: %v", err)
	}
	return s
}

// serveSOAP serves the SP with its SOAP single logout service at /saml/soap-slo (not
// registered: an SP of the configuration file).
func serveSOAP(t *testing.T, e *env, sp *samlSP, settings config.SAMLServiceProvider) *soapSP {
	t.Helper()
	s := &soapSP{samlSP: sp, settings: settings}
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
		answer := func(lr *crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
			return sp.mw.ServiceProvider.MakeSOAPLogoutResponse(lr.ID, crewjam.Status{StatusCode: crewjam.StatusCode{Value: crewjam.StatusSuccess}})
		}
		if a := s.answer.Load(); a != nil {
			answer = *a
		}
		resp, err := answer(lr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = crewjam.WriteSOAPLogoutResponse(w, resp)
	})
	sp.handler.Store(mux)
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

// signOutAt signs c's member out on the bridge's sign-out page.
func signOutAt(t *testing.T, e *env, c *http.Client) {
	t.Helper()
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/logout") })
	f := formFields(body)
	fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/logout", map[string][]string{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
	})
}

// TestSAMLSOAPLogoutResponseChecked (SAML profiles 4.4.4.2, bindings 3.2.3): the SP's SOAP
// LogoutResponse delivers the back-channel LogoutRequest only when it is that SP's Success
// answer to that request: signed with the SP's registered certificate when signed, and signed
// at all when the SP's logout_responses_signed asks it. Every other answer is a failed delivery,
// retried with the outbox backoff and then given up (a dead event with the reason, in the
// outbox view), never a success. Through crewjam's SP.
func TestSAMLSOAPLogoutResponseChecked(t *testing.T) {
	e, _, _, _ := samlEnv(t, func(c *bridge.Config) {
		c.Shadow.Config.BackoffMin, c.Shadow.Config.BackoffMax = time.Millisecond, time.Millisecond
		c.Shadow.Config.MaxAttempts = 2
	})
	open := startSOAPAs(t, e, newSAMLSP(t), config.SAMLServiceProvider{ID: "soapapp", Name: "SOAP App"})
	strict := startSOAPAs(t, e, newSAMLSP(t), config.SAMLServiceProvider{ID: "soapsigned", Name: "Signed SOAP App", LogoutResponsesSigned: true})
	intruder := newSAMLSP(t)
	ctx := context.Background()

	success := crewjam.Status{StatusCode: crewjam.StatusCode{Value: crewjam.StatusSuccess}}
	signed := func(sp *soapSP, status string) func(*crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
		return func(lr *crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
			return sp.mw.ServiceProvider.MakeSOAPLogoutResponse(lr.ID, crewjam.Status{StatusCode: crewjam.StatusCode{Value: status}})
		}
	}
	unsigned := func(sp *soapSP) func(*crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
		return func(lr *crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
			other := sp.mw.ServiceProvider
			other.Key, other.Certificate = nil, nil
			return other.MakeSOAPLogoutResponse(lr.ID, success)
		}
	}
	// The SP's entity id, signed with a key it never registered.
	wrongSigner := func(sp *soapSP) func(*crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
		return func(lr *crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
			other := sp.mw.ServiceProvider
			other.Key, other.Certificate = intruder.key, intruder.cert
			return other.MakeSOAPLogoutResponse(lr.ID, success)
		}
	}
	// A genuine signed Success, but to another request (an earlier one, replayed).
	anotherRequest := func(sp *soapSP) func(*crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
		return func(lr *crewjam.LogoutRequest) (*crewjam.LogoutResponse, error) {
			return sp.mw.ServiceProvider.MakeSOAPLogoutResponse("id-0123456789abcdef", success)
		}
	}

	for _, c := range []struct {
		name     string
		sp       *soapSP
		answer   func(*crewjam.LogoutRequest) (*crewjam.LogoutResponse, error)
		state    string
		attempts int
		reason   string
	}{
		{"signed success", open, signed(open, crewjam.StatusSuccess), store.OutboxDelivered, 1, ""},
		{"unsigned success, signature not asked", open, unsigned(open), store.OutboxDelivered, 1, ""},
		{"unsigned success, signature asked", strict, unsigned(strict), store.OutboxDead, 2, "not signed"},
		{"signed success, signature asked", strict, signed(strict, crewjam.StatusSuccess), store.OutboxDelivered, 1, ""},
		{"a wrong signer", open, wrongSigner(open), store.OutboxDead, 2, "signature not valid"},
		{"a response to another request", open, anotherRequest(open), store.OutboxDead, 2, "not to the request sent"},
		{"Responder", open, signed(open, crewjam.StatusResponder), store.OutboxDead, 2, "answered"},
		{"PartialLogout", strict, signed(strict, crewjam.StatusPartialLogout), store.OutboxDead, 2, "answered"},
		{"Requester (final at once)", open, signed(open, crewjam.StatusRequester), store.OutboxDead, 1, "Requester"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.sp.answer.Store(&c.answer)
			before, _ := c.sp.requests()
			known := outboxEvents(t, e, c.sp.Settings().ID)
			cl := samlClient()
			index := signInAtSP(t, e, cl, c.sp.samlSP)
			signOutAt(t, e, cl)
			var ev *store.OutboxEvent
			for deadline := time.Now().Add(30 * time.Second); ev == nil || ev.State == store.OutboxPending; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the logout event was never settled: %+v", ev)
				}
				if _, err := e.bridge.Shadow().DeliverDue(ctx); err != nil {
					t.Fatalf("deliver: %v", err)
				}
				for id, x := range outboxEvents(t, e, c.sp.Settings().ID) {
					if known[id] == nil {
						if ev != nil && ev.ID != id {
							t.Fatalf("two logout events for one session: %s, %s", ev.ID, id)
						}
						ev = x
					}
				}
			}
			got, errs := c.sp.requests()
			if len(errs) > 0 {
				t.Fatalf("the SP refused a LogoutRequest: %v", errs)
			}
			if len(got) <= len(before) || got[len(got)-1].SessionIndex == nil || got[len(got)-1].SessionIndex.Value != index {
				t.Fatalf("the SP did not get this session's LogoutRequest (%d before, %d after)", len(before), len(got))
			}
			if ev.State != c.state || ev.Attempts != c.attempts || !strings.Contains(ev.LastError, c.reason) {
				t.Fatalf("event %s after %d attempts (%q), want %s after %d (%q)", ev.State, ev.Attempts, ev.LastError, c.state, c.attempts, c.reason)
			}
			if c.state == store.OutboxDead {
				// The operator sees it in the outbox view, with the reason.
				st, err := e.bridge.Admin().Outbox(ctx, "test")
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(st.Dead, func(d admin.OutboxEventInfo) bool { return d.ID == ev.ID && d.LastError == ev.LastError }) {
					t.Fatalf("dead event %s not in the outbox view", ev.ID)
				}
			}
		})
	}
}

// outboxEvents are the outbox events of a client, by id.
func outboxEvents(t *testing.T, e *env, clientID string) map[string]*store.OutboxEvent {
	t.Helper()
	out := map[string]*store.OutboxEvent{}
	for _, state := range []string{store.OutboxPending, store.OutboxDelivered, store.OutboxDead} {
		evs, err := e.store.OutboxEvents(context.Background(), store.OutboxFilter{State: state, ClientID: clientID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			out[ev.ID] = ev
		}
	}
	return out
}

// TestSAMLSOAPSingleLogoutConfigSP: an SP entered in the configuration file with a
// soap_slo_url is sent the back-channel LogoutRequest like one registered from metadata (and no
// front-channel one); its answer is checked against its configured certificate.
func TestSAMLSOAPSingleLogoutConfigSP(t *testing.T) {
	app := newSAMLSP(t)
	settings := app.config("cfgsoap", "Configured SOAP App")
	settings.SLOURL, settings.SOAPSLOURL, settings.LogoutResponsesSigned = "", app.srv.URL+"/saml/soap-slo", true
	settings.AllowInsecureSOAPSLO = true // plain http on 127.0.0.1
	e, lms, _, _ := samlEnv(t, func(c *bridge.Config) {
		c.Shadow.Config.BackoffMin, c.Shadow.Config.BackoffMax = time.Millisecond, time.Millisecond
		c.SAML.ServiceProviders = append(c.SAML.ServiceProviders, settings)
	})
	app.start(t, e, crewjam.HTTPRedirectBinding, "cfgsoap_token")
	sp := serveSOAP(t, e, app, settings)
	ctx := context.Background()

	c := samlClient()
	index := signInAtSP(t, e, c, app)
	signInAtSP(t, e, c, lms)
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/logout") })
	f := formFields(body)
	_, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/logout", map[string][]string{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
	})
	if strings.Contains(body, app.srv.URL) {
		t.Fatalf("the SOAP SP got a front-channel LogoutRequest too: %.1500s", body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the configured SOAP SP never got its LogoutRequest")
		}
		if _, err := e.bridge.Shadow().DeliverDue(ctx); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		got, errs := sp.requests()
		if len(errs) > 0 {
			t.Fatalf("the SP refused the LogoutRequest: %v", errs)
		}
		if len(got) == 0 {
			continue
		}
		if idx := got[0].AllSessionIndexes(); len(got) != 1 || len(idx) != 1 || idx[0].Value != index {
			t.Fatalf("%d LogoutRequests, the first for %+v, want one for %s", len(got), idx, index)
		}
		break
	}
	// Delivered: the SP's signed answer checked against the configured certificate.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		evs := outboxEvents(t, e, "cfgsoap")
		if len(evs) != 1 {
			t.Fatalf("%d outbox events for the configured SP", len(evs))
		}
		var ev *store.OutboxEvent
		for _, x := range evs {
			ev = x
		}
		if ev.State == store.OutboxDelivered {
			break
		}
		if ev.State == store.OutboxDead || time.Now().After(deadline) {
			t.Fatalf("event %s after %d attempts: %s", ev.State, ev.Attempts, ev.LastError)
		}
		if _, err := e.bridge.Shadow().DeliverDue(ctx); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
}
