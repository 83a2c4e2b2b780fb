package bridge_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
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

// TestAccountSignOutOfAppTellsTheApp (review s10 V5; OIDC Back-Channel Logout 1.0 2.7): "Sign
// out of <app>" on the account page sends the app a logout token (since session 21 for all the
// member's sessions there, "on all your devices": sub, no sid), so that the app ends its own
// session too; withdrawing the consent of an app sends
// it a logout token for all the member's sessions there (sub, no sid). Before, both only
// revoked the member's refresh tokens at the app: its session went on.
func TestAccountSignOutOfAppTellsTheApp(t *testing.T) {
	rec := newBCLRecorder(t)
	e := grantEnv(t, rec.withBCL)
	cfg, verifier := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	tok, err := cfg.Exchange(e.ctx(), e.signIn(b, cfg.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var ids struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&ids); err != nil || ids.SID == "" {
		t.Fatalf("no sid in the ID token: %v", err)
	}
	logoutToken := func(t *testing.T, what string) map[string]any {
		t.Helper()
		l := rec.delivered(t, e)
		if len(l) != 1 {
			t.Fatalf("%s: %d logout tokens delivered, want 1: %v", what, len(l), l)
		}
		claims := l[0]
		if claims["aud"] != "other" && !strings.Contains(fmt.Sprint(claims["aud"]), "other") {
			t.Fatalf("%s: logout token for %v", what, claims["aud"])
		}
		return claims
	}

	acc := b.Get(e.issuer + "/account")
	b.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"other"}, "action": {"signout"}})
	// Since session 21 (brief H item 2) "Sign out of <app> on all your devices": sub, no sid.
	if c := logoutToken(t, "sign out of the app"); c["sid"] != nil || c["sub"] != idt.Subject {
		t.Fatalf("sign out of the app: logout token sid %v sub %v, want sub %s alone (all devices)", c["sid"], c["sub"], idt.Subject)
	}

	// The app left the account page's list with the sign-out (session 22): the page has no
	// form left to read the CSRF token from; the sign-out-all confirmation has one.
	acc = b.Get(e.issuer + "/account/signout-all")
	b.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"other"}, "action": {"withdraw"}})
	if c := logoutToken(t, "consent withdrawn"); c["sub"] != idt.Subject || c["sid"] != nil {
		t.Fatalf("consent withdrawn: logout token sid %v sub %v, want sub %s alone", c["sid"], c["sub"], idt.Subject)
	}
}

// TestDeadLogoutOfAnotherSessionRetried (review s10 V13): a back-channel logout that became a
// dead letter (the app refused it) is re-sent by a retry even after a logout of another of the
// member's sessions at that app was delivered: each logout ends its own session (its sid), so a
// later one supersedes nothing. Before, logout events were keyed by app and member only, and
// RetryEvents took the later logout for a newer state of the same thing: "shadow retry --all"
// left the dead one dead (0 re-queued) and the app kept that session.
func TestDeadLogoutOfAnotherSessionRetried(t *testing.T) {
	var calls int
	sids := make(chan string, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		parts := strings.Split(r.PostForm.Get("logout_token"), ".")
		if r.URL.Path != "/bcl" || len(parts) != 3 {
			http.NotFound(w, r)
			return
		}
		calls++
		if calls == 1 {
			http.Error(w, "not now", http.StatusBadRequest) // final: a dead letter at once
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			SID string `json:"sid"`
		}
		_ = json.Unmarshal(raw, &c)
		sids <- c.SID
	}))
	defer rp.Close()
	e := grantEnv(t, func(c *bridge.Config) {
		c.Clients[1].BackchannelLogoutURI = rp.URL + "/bcl" // "other"
		c.Clients[1].AllowInternalTargets = true            // rp is on 127.0.0.1
	})
	cfg, verifier := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	sidOf := func(b *bridgetest.Browser) string {
		t.Helper()
		tok, err := cfg.Exchange(e.ctx(), e.signIn(b, cfg.AuthCodeURL("s"), "alice", "alice-password"))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			SID string `json:"sid"`
		}
		if err := idt.Claims(&c); err != nil || c.SID == "" {
			t.Fatalf("no sid: %v", err)
		}
		return c.SID
	}
	deliver := func(want int) {
		t.Helper()
		if n, err := e.bridge.Shadow().DeliverDue(e.ctx()); err != nil || n != want {
			t.Fatalf("delivered %d events (%v), want %d", n, err, want)
		}
	}
	b1, b2 := e.browser(), e.browser()
	first := sidOf(b1)
	signOut(t, e, b1)
	deliver(1) // refused: dead
	second := sidOf(b2)
	signOut(t, e, b2)
	deliver(1)
	if got := <-sids; got != second {
		t.Fatalf("delivered the logout of %s, want the second session's %s", got, second)
	}
	n, err := e.store.RetryEvents(e.ctx(), "", time.Now())
	if err != nil || n != 1 {
		t.Fatalf("RetryEvents(all) = %d, %v; want the first session's dead logout re-queued", n, err)
	}
	deliver(1)
	if got := <-sids; got != first {
		t.Fatalf("the retry delivered the logout of %s, want the first session's %s", got, first)
	}
}
