package bridge_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// sloSeen records what an SP's single logout service was sent through the browser: the
// LogoutRequests (and how crewjam's SP answered them: it checks the IdP's signature) and the
// LogoutResponses, whose query it keeps for the test to check.
type sloSeen struct {
	mu        sync.Mutex
	requests  []*crewjam.LogoutRequest
	answers   []int // the SP's status code for each request (302: it signed out and answers)
	responses []*url.URL
}

// watchSLO puts sloSeen in front of sp's single logout service. A LogoutResponse is kept and
// answered with the SP's home page (crewjam's SP would look for a request it sent itself).
func watchSLO(t *testing.T, sp *samlSP) *sloSeen {
	t.Helper()
	seen := &sloSeen{}
	mux := sp.handler.Load()
	wrapped := http.NewServeMux()
	wrapped.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/saml/slo" {
			mux.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		if q.Get("SAMLResponse") != "" {
			u := *r.URL
			seen.mu.Lock()
			seen.responses = append(seen.responses, &u)
			seen.mu.Unlock()
			w.Write([]byte("<!doctype html><title>sp home</title><p id=home>signed out of the app</p>"))
			return
		}
		var lr crewjam.LogoutRequest
		if b, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest")); err == nil {
			if raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(b))); err == nil {
				xml.Unmarshal(raw, &lr)
			}
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		seen.mu.Lock()
		seen.requests, seen.answers = append(seen.requests, &lr), append(seen.answers, rec.code)
		seen.mu.Unlock()
	})
	sp.handler.Store(wrapped)
	return seen
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) { r.code = code; r.ResponseWriter.WriteHeader(code) }

// walkChain follows a sign-out through the browser c from the page body: each step's link to
// an SP's single logout service (HTTP-Redirect), whose answer comes back to the bridge, until a
// page that is not a step. It returns that last response and body.
func walkChain(t *testing.T, c *http.Client, resp *http.Response, body string) (*http.Response, string) {
	t.Helper()
	for range 8 {
		m := chainRedirect.FindStringSubmatch(body)
		if m == nil {
			return resp, body
		}
		resp, body = fetch(t, func() (*http.Response, error) { return c.Get(html.UnescapeString(m[1])) })
	}
	t.Fatalf("the sign-out chain did not end: %.800s", body)
	return nil, ""
}

// TestSAMLUnusableSPStillSignedOutThroughTheBrowser (brief s21 M3 item 1): an SP registered
// before session 19's rules and refused by them since (an e-mail NameID without
// email_verified; an http ACS on another host), whose single logout service is a browser one
// (HTTP-Redirect), gets no new sign-in (503), but single sign-out still reaches it both ways,
// as 19e118a made the back channel do:
//   - a sign-out at the bridge takes the browser to it with a signed LogoutRequest naming the
//     member's NameID and SessionIndex, which crewjam's SP accepts (it checks the IdP's
//     signature), and its signed LogoutResponse moves the chain on: nothing is recorded as
//     unconfirmed;
//   - its own signed LogoutRequest for the member ends her bridge session (and, through the
//     chain, her session at the other SP), and it gets its signed LogoutResponse, Success,
//     which crewjam's SP reads as the answer to its request.
//
// Before, the browser chain skipped it like an unknown SP and its own LogoutRequest was refused
// ("unknown service provider"): the member stayed signed in there.
func TestSAMLUnusableSPStillSignedOutThroughTheBrowser(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings config.SAMLServiceProvider
		httpACS  bool
	}{
		{"e-mail NameID without email_verified", config.SAMLServiceProvider{ID: "oldapp", Name: "Old App", NameIDFormat: config.SAMLNameIDEmail}, false},
		{"http ACS", config.SAMLServiceProvider{ID: "oldapp", Name: "Old App"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lms, old := newSAMLSP(t), newSAMLSP(t)
			e := newEnv(t, func(c *bridge.Config) {
				c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
				c.Policy.EmailVerified = false // the e-mail NameID SP is refused
			})
			ctx := context.Background()
			lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
			old.start(t, e, crewjam.HTTPRedirectBinding, "old_token")
			seen := watchSLO(t, old)
			md := old.mw.ServiceProvider.Metadata()
			if tc.httpACS {
				for i := range md.SPSSODescriptors[0].AssertionConsumerServices {
					md.SPSSODescriptors[0].AssertionConsumerServices[i].Location = "http://old.example.org/saml/acs"
				}
			}
			raw, err := xml.Marshal(md)
			if err != nil {
				t.Fatal(err)
			}
			// Stored as registered before the rules (registration refuses it now).
			rec, err := saml.Record(tc.settings, raw, old.entityID(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.CreateSAMLServiceProvider(ctx, rec); err != nil {
				t.Fatal(err)
			}
			resp, err := e.srv.Client().Get(e.issuer + saml.PathStart + "oldapp")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("a sign-in at the refused SP: %d, want 503", resp.StatusCode)
			}

			// Alice signs in at lms; she had signed in at the old SP before the rules.
			var subject, nameID, format string
			signedIn := func(c *http.Client) (sessionID, index string) {
				t.Helper()
				index = signInAtSP(t, e, c, lms)
				subject = identitySubject(t, e, mustMember(t, e, "alice").Key)
				nameID, format = subject, string(crewjam.PersistentNameIDFormat)
				if tc.settings.NameIDFormat == config.SAMLNameIDEmail {
					nameID, format = "alice@example.org", string(crewjam.EmailAddressNameIDFormat)
				}
				sessions, err := e.store.Sessions(ctx, subject)
				if err != nil || len(sessions) != 1 {
					t.Fatalf("alice's sessions: %+v, %v", sessions, err)
				}
				if err := e.store.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: sessions[0].ID, SP: old.entityID(),
					NameID: nameID, NameIDFormat: format, SessionIndex: index, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
				return sessions[0].ID, index
			}
			lmsSignedOut := func(c *http.Client, when string) {
				t.Helper()
				_, body := fetch(t, func() (*http.Response, error) { return c.Get(lms.srv.URL + "/app") })
				if f := formFields(body); f.Get("csrf") == "" || f.Get("id") == "" {
					t.Fatalf("%s: lms still signed in: %.400s", when, body)
				}
			}

			// 1. The sign-out page: the chain visits lms and the old SP.
			c := samlClient()
			_, index := signedIn(c)
			_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/logout") })
			f := formFields(body)
			resp, body = fetch(t, func() (*http.Response, error) {
				return c.PostForm(e.issuer+"/logout", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
			})
			resp, body = walkChain(t, c, resp, body)
			if resp.Request.URL.Path != "/logout/done" || !strings.Contains(body, `id="signed-out"`) {
				t.Fatalf("the chain did not end on the signed-out page: %s %.600s", resp.Request.URL, body)
			}
			seen.mu.Lock()
			requests, answers := seen.requests, seen.answers
			seen.mu.Unlock()
			if len(requests) != 1 {
				t.Fatalf("the refused SP was sent %d LogoutRequests through the browser, want 1", len(requests))
			}
			lr := requests[0]
			idx := lr.AllSessionIndexes()
			if answers[0] != http.StatusFound || lr.NameID == nil || lr.NameID.Value != nameID || len(idx) != 1 || idx[0].Value != index {
				t.Fatalf("the SP answered %d to a LogoutRequest naming %+v %+v, want 302 and %s / %s", answers[0], lr.NameID, idx, nameID, index)
			}
			if evs := outboxEvents(t, e, "oldapp"); len(evs) != 0 {
				for _, ev := range evs {
					t.Logf("%+v", ev)
				}
				t.Fatal("the refused SP's logout was recorded as unconfirmed, or sent on the back channel")
			}
			lmsSignedOut(c, "after the sign-out page")

			// 2. The old SP's own LogoutRequest, in a new session.
			c = samlClient()
			signedIn(c)
			req, err := old.mw.ServiceProvider.MakeLogoutRequest(old.mw.ServiceProvider.GetSLOBindingLocation(crewjam.HTTPRedirectBinding), nameID)
			if err != nil {
				t.Fatal(err)
			}
			u, err := old.mw.ServiceProvider.RedirectLogoutRequestURL(req, "rs-old")
			if err != nil {
				t.Fatal(err)
			}
			resp, body = fetch(t, func() (*http.Response, error) { return c.Get(u.String()) })
			resp, body = walkChain(t, c, resp, body)
			if s, err := e.store.Sessions(ctx, subject); err != nil || len(s) != 0 {
				t.Fatalf("the refused SP's LogoutRequest left %d sessions (%v); last page %s %d %.600s", len(s), err, resp.Request.URL, resp.StatusCode, body)
			}
			seen.mu.Lock()
			responses := seen.responses
			seen.mu.Unlock()
			if len(responses) != 1 || resp.Request.URL.Path != "/saml/slo" || !strings.HasPrefix(resp.Request.URL.String(), old.srv.URL) {
				t.Fatalf("the refused SP got %d LogoutResponses; the browser ended at %s %.600s", len(responses), resp.Request.URL, body)
			}
			hr, err := http.NewRequest(http.MethodGet, responses[0].String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			answer, err := old.mw.ServiceProvider.ParseLogoutResponse(hr, []string{req.ID})
			if err != nil {
				t.Fatalf("crewjam's SP refused the bridge's LogoutResponse: %v", err)
			}
			if answer.Status.StatusCode.Value != crewjam.StatusSuccess || answer.Status.StatusCode.StatusCode != nil || responses[0].Query().Get("RelayState") != "rs-old" {
				t.Fatalf("LogoutResponse status %+v, RelayState %q; want Success alone, rs-old", answer.Status.StatusCode, responses[0].Query().Get("RelayState"))
			}
			lmsSignedOut(c, "after the refused SP's LogoutRequest")
		})
	}
}
