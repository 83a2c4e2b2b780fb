package bridge_test

import (
	"context"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// writeCounter is a store that counts the sign-in's writes.
type writeCounter struct {
	store.Store
	createSession, audit, complete, addClient, completeSignIn atomic.Int64
	authRequestReads, saveCode                                atomic.Int64
}

func (w *writeCounter) SaveCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error {
	w.saveCode.Add(1)
	return w.Store.SaveCode(ctx, id, codeHash, expiresAt)
}

func (w *writeCounter) AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error) {
	w.authRequestReads.Add(1)
	return w.Store.AuthRequest(ctx, id)
}

func (w *writeCounter) CreateSession(ctx context.Context, s *sso.Session) error {
	w.createSession.Add(1)
	return w.Store.CreateSession(ctx, s)
}

func (w *writeCounter) Audit(ctx context.Context, e *store.AuditEvent) error {
	w.audit.Add(1)
	return w.Store.Audit(ctx, e)
}

func (w *writeCounter) CompleteAuthRequest(ctx context.Context, id string, c sso.Completion) error {
	w.complete.Add(1)
	return w.Store.CompleteAuthRequest(ctx, id, c)
}

func (w *writeCounter) AddSessionClient(ctx context.Context, id, clientID string, at time.Time) error {
	w.addClient.Add(1)
	return w.Store.AddSessionClient(ctx, id, clientID, at)
}

func (w *writeCounter) CompleteSignIn(ctx context.Context, in *store.SignIn) error {
	w.completeSignIn.Add(1)
	return w.Store.CompleteSignIn(ctx, in)
}

// countedStore is envDeps' store: SQLite in memory behind a writeCounter, set in *wc.
func countedStore(wc **writeCounter) func(t testing.TB) store.Store {
	return func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		*wc = &writeCounter{Store: st}
		return *wc
	}
}

func (w *writeCounter) counts() [5]int64 {
	return [5]int64{w.createSession.Load(), w.audit.Load(), w.complete.Load(), w.addClient.Load(), w.completeSignIn.Load()}
}

// TestPasswordSignInOneWrite: a password sign-in that goes straight on to its app writes its
// session, its login.success row and the completion of the request in one transaction
// (CompleteSignIn) instead of four writes, its authorization code attached by the same
// statement that completes the request (no SaveCode, no authorize callback hop); a sign-in that
// stops at the consent page writes no session before it (it waits under a consent hold), and
// the consent writes the session, its login.success row and the completion in that one
// transaction too. What ends up stored is the same either way. The request is stored bound to the browser when /authorize answers the form itself (no
// claim write; a login page reached through /login?id= claims it, bound and read in one write),
// and the form post reads it once.
func TestPasswordSignInOneWrite(t *testing.T) {
	var wc *writeCounter
	e := newEnvDeps(t, false, nil, envDeps{store: countedStore(&wc)})
	ctx := t.Context()
	// [CreateSession, Audit, CompleteAuthRequest, AddSessionClient, CompleteSignIn]
	check := func(name string, before [5]int64, want [5]int64) {
		t.Helper()
		got := wc.counts()
		for i := range got {
			got[i] -= before[i]
		}
		if got != want {
			t.Errorf("%s: writes [CreateSession Audit CompleteAuthRequest AddSessionClient CompleteSignIn] = %v, want %v", name, got, want)
		}
	}
	session := func(subject string) *sso.Session {
		t.Helper()
		l, err := wc.Sessions(ctx, subject)
		if err != nil || len(l) == 0 {
			t.Fatalf("sessions of %s: %v %v", subject, l, err)
		}
		return l[len(l)-1]
	}

	// Straight to a trusted app: one transaction.
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	before, reads, saves := wc.counts(), wc.authRequestReads.Load(), wc.saveCode.Load()
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	check("sign-in to a trusted app", before, [5]int64{0, 0, 0, 0, 1})
	// The form post reads the request; the login page binds and reads it in one write
	// (ClaimAuthRequest), and the form post's answer carries the code (no authorize callback,
	// which read it a third time).
	if n := wc.authRequestReads.Load() - reads; n != 1 {
		t.Errorf("the sign-in read its auth request %d times, want 1", n)
	}
	if n := wc.saveCode.Load() - saves; n != 0 {
		t.Errorf("the sign-in saved its code in %d separate writes, want 0 (with the completion)", n)
	}
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	sub := idt.Subject
	if s := session(sub); !slices.Equal(s.Clients, []string{"web"}) || !slices.Equal(s.AMR, []string{"pwd"}) {
		t.Errorf("session clients %v amr %v, want [web] [pwd]", s.Clients, s.AMR)
	}
	evs, err := wc.AuditEvents(ctx, store.AuditFilter{Event: "login.success", Subject: sub})
	if err != nil || len(evs) != 1 || evs[0].ClientID != "web" || evs[0].Detail != "pwd" || evs[0].Login != "alice" {
		t.Fatalf("login.success rows %+v %v, want one for web", evs, err)
	}

	// A third-party app: the consent page comes first, and the session is written with the
	// completion, after it.
	third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)
	b := e.browser()
	before = wc.counts()
	p := b.Login(b.Get(third.AuthCodeURL("s")), "alice", "alice-password")
	if p.URL.Path != "/consent" {
		t.Fatalf("after the password: %s (%d), want the consent page", p.URL, p.Status)
	}
	check("sign-in stopping at the consent page", before, [5]int64{0, 0, 0, 0, 0})
	f := p.Hidden()
	before = wc.counts()
	p = b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
	if p.Redirected(t).Get("code") == "" {
		t.Fatal("no code after consent")
	}
	check("the consent of a new sign-in", before, [5]int64{0, 1, 0, 0, 1}) // consent.granted, then the sign-in
	if s := session(sub); !slices.Equal(s.Clients, []string{"third"}) {
		t.Errorf("consented session clients %v, want [third]", s.Clients)
	}
}
