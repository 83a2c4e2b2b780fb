package sso_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// codeReads is the in-memory store counting the code exchange's reads of a request.
type codeReads struct {
	*memstore.Store
	n atomic.Int32
}

func (s *codeReads) CodeRequest(ctx context.Context, id string) (*sso.AuthRequest, bool, error) {
	s.n.Add(1)
	return s.Store.CodeRequest(ctx, id)
}

// committedCode signs subject in for the web client as the bridge's login form does: the
// request read, its code made (NewCode), the completion and the code written in one step,
// then CodeCommitted. It returns the code, its PKCE verifier and the session's id.
func (h *harness) committedCode(subject string, scopes ...string) (code, verifier, sid string) {
	h.t.Helper()
	verifier, challenge := pkce()
	cfg := h.oauth2Config("web", webSecret, webRedirect, scopes...)
	resp := h.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	id := loc.Query().Get("id")
	if resp.StatusCode != http.StatusFound || id == "" {
		h.t.Fatalf("authorize: %d %s", resp.StatusCode, loc)
	}
	ctx := h.t.Context()
	ar, err := h.store.AuthRequest(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	now := time.Now()
	sid = "sess-" + id
	if err := h.store.CreateSession(ctx, &sso.Session{ID: sid, Subject: subject, AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		h.t.Fatal(err)
	}
	ic, err := h.p.NewCode(ar)
	if err != nil {
		h.t.Fatal(err)
	}
	c := sso.Completion{Subject: subject, AuthTime: now, AMR: []string{"pwd"}, SessionID: sid, Browser: ar.Browser}
	if err := h.store.CompleteAuthRequest(ctx, id, c); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.SaveCode(ctx, id, ic.Hash, ic.ExpiresAt); err != nil {
		h.t.Fatal(err)
	}
	h.p.CodeCommitted(ar, c, ic)
	u, err := url.Parse(ic.RedirectURL)
	if err != nil {
		h.t.Fatal(err)
	}
	return u.Query().Get("code"), verifier, sid
}

// exchange presents code to h's token endpoint for client with verifier and redirect.
func (h *harness) exchange(client, code, verifier, redirect string) (int, map[string]any) {
	h.t.Helper()
	status, body, _ := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirect}, "code_verifier": {verifier}}, client+":"+webSecret)
	return status, body
}

// A code this process has just committed is exchanged without reading its request back: the
// first exchange reads nothing, a second presentation of the code reads it (and is refused as
// a replay, revoking what the first issued).
func TestCommittedCodeExchangeReadsNothing(t *testing.T) {
	reads := &codeReads{}
	h := newHarnessWith(t, func(m *memstore.Store) sso.Store { reads.Store = m; return reads })
	code, verifier, _ := h.committedCode("alice", "openid", "offline_access")
	status, body := h.exchange("web", code, verifier, webRedirect)
	if status != http.StatusOK || body["id_token"] == nil || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", status, body)
	}
	if n := reads.n.Load(); n != 0 {
		t.Fatalf("the exchange of a code committed here read its request %d times, want 0", n)
	}
	status, again := h.exchange("web", code, verifier, webRedirect)
	if status != http.StatusBadRequest || again["error"] != "invalid_grant" || again["error_description"] != "invalid code" {
		t.Fatalf("replay: %d %v", status, again)
	}
	if n := reads.n.Load(); n != 1 {
		t.Fatalf("the replay read the request %d times, want 1", n)
	}
	if !h.hooks.sawEvent("token.code_replay") {
		t.Fatal("no token.code_replay event")
	}
	status, _, _ = h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}, "web:"+webSecret)
	if status != http.StatusBadRequest {
		t.Fatalf("refresh after the replay: %d, want 400 (revoked)", status)
	}
}

// A code presented where it was committed (its request taken from the provider's cache) gets
// the answer, the events (with their subject, client and detail) and the revocations it gets on
// a replica that reads its request from the store, whatever happened to it in between:
// exchanged on another replica, its session ended, presented by another client, with another
// redirect_uri or without its verifier. So for both ways a code is issued here: the login
// form's one write and op's callback for a sign-in from a live session.
func TestCommittedCodeAnswersAsTheStore(t *testing.T) {
	for _, issuer := range codeIssuers {
		t.Run(issuer.name, func(t *testing.T) { committedCodeAnswersAsTheStore(t, issuer.issue) })
	}
}

func committedCodeAnswersAsTheStore(t *testing.T, issue func(h *harness, subject string, scopes ...string) (code, verifier, sid string)) {
	type outcome struct {
		status      int
		err, desc   string
		events      []string // the audit lines: event, subject, client and detail
		earlierLive bool     // the tokens of an exchange on a third replica before still refresh
	}
	for _, tc := range []struct {
		name string
		// before runs on the committing replica a, with the code's other replica c; earlier is
		// the refresh token of c's exchange of the code, if it made one.
		before func(t *testing.T, a, c *harness, code, verifier, sid string) (earlier string)
		// client, verifier and redirect of the presentation ("" verifier: the code's own).
		client, verifier, redirect string
	}{
		{name: "unused"},
		{name: "exchanged on another replica", before: exchangeOn},
		{name: "exchanged on another replica, presented without its verifier", before: exchangeOn, verifier: "wrong-verifier-0123456789-0123456789-0123456789"},
		{name: "exchanged on another replica, presented by another client", before: exchangeOn, client: "third"},
		{name: "session ended", before: func(t *testing.T, a, _ *harness, _, _, sid string) string {
			if err := a.store.EndSession(t.Context(), sid); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{name: "another client", client: "third"},
		{name: "another redirect_uri", redirect: "https://rp.example/other"},
		{name: "wrong verifier", verifier: "wrong-verifier-0123456789-0123456789-0123456789"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// present runs the case with the code presented at the replica that committed it
			// (cached) or at another one (read from the store).
			present := func(cached bool) outcome {
				a := newHarness(t)
				b, c := a.replica(), a.replica()
				code, verifier, sid := issue(a, "alice", "openid", "offline_access")
				var earlier string
				if tc.before != nil {
					earlier = tc.before(t, a, c, code, verifier, sid)
				}
				at := b
				if cached {
					at = a
				}
				at.hooks.mu.Lock()
				mark := len(at.hooks.audit)
				at.hooks.mu.Unlock()
				client, v, redirect := "web", verifier, webRedirect
				if tc.client != "" {
					client = tc.client
				}
				if tc.verifier != "" {
					v = tc.verifier
				}
				if tc.redirect != "" {
					redirect = tc.redirect
				}
				status, body := at.exchange(client, code, v, redirect)
				o := outcome{status: status}
				o.err, _ = body["error"].(string)
				o.desc, _ = body["error_description"].(string)
				at.hooks.mu.Lock()
				o.events = slices.Clone(at.hooks.audit[mark:])
				at.hooks.mu.Unlock()
				if earlier != "" {
					st, _, _ := c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {earlier}}, "web:"+webSecret)
					o.earlierLive = st == http.StatusOK
				}
				return o
			}
			fromCache, fromStore := present(true), present(false)
			if !reflect.DeepEqual(fromCache, fromStore) {
				t.Fatalf("presented where it was committed: %+v\npresented on another replica: %+v", fromCache, fromStore)
			}
			t.Logf("%+v", fromCache)
		})
	}
}

// exchangeOn exchanges code on replica c and returns the refresh token it issued.
func exchangeOn(t *testing.T, _, c *harness, code, verifier, _ string) string {
	status, body := c.exchange("web", code, verifier, webRedirect)
	if status != http.StatusOK {
		t.Fatalf("exchange on another replica: %d %v", status, body)
	}
	return body["refresh_token"].(string)
}

// What CodeCommitted (the login form) and SaveAuthCode (op's callback with the guard's request)
// keep is the request as the store holds it after the write that attached the code: the same
// fields the exchange would have read.
func TestCommittedCodeIsTheStoredRequest(t *testing.T) {
	for _, issuer := range codeIssuers {
		t.Run(issuer.name, func(t *testing.T) {
			h := newHarness(t)
			_, _, sid := issuer.issue(h, "alice", "openid", "offline_access")
			id := strings.TrimPrefix(sid, "sess-")
			kept := sso.PeekCommittedCode(h.p, id)
			if kept == nil {
				t.Fatal("nothing kept")
			}
			stored, live, err := h.store.CodeRequest(t.Context(), id)
			if err != nil || !live {
				t.Fatalf("stored: %v, live %v", err, live)
			}
			if !reflect.DeepEqual(kept, stored) {
				t.Fatalf("kept %+v\nstored %+v", kept, stored)
			}
		})
	}
}
