package bridge_test

import (
	"context"
	"maps"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// readCountingStore is the SQLite store counting the code exchange's reads of a request.
type readCountingStore struct {
	*sqlite.Store
	reads atomic.Int32
}

func (s *readCountingStore) CodeRequest(ctx context.Context, id string) (*sso.AuthRequest, bool, error) {
	s.reads.Add(1)
	return s.Store.CodeRequest(ctx, id)
}

// TestLoginFormCodeExchangeReadsNoRequest: the code of a sign-in through the login form, and
// the code op's callback issues for the same browser's next sign-in (its live SSO session: no
// login form), are exchanged without reading their request back (the provider keeps what the
// write that attached the code left), and their ID tokens say what one from a code read from
// the store says: a third code, first presented with another redirect_uri (refused before any
// write, so the cached request is given up and the refusal decided on the store's read), then
// exchanged with a read, for the same session, member and methods.
func TestLoginFormCodeExchangeReadsNoRequest(t *testing.T) {
	st := &readCountingStore{}
	e := newEnvDeps(t, false, bridgetest.NewDirectory(), envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ssobridge.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st.Store = s
		return st
	}})
	cfg, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	claims := func(code string, wantReads int32) map[string]any {
		t.Helper()
		tok, err := cfg.Exchange(e.ctx(), code)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if n := st.reads.Swap(0); n != wantReads {
			t.Fatalf("the exchange read the code's request %d times, want %d", n, wantReads)
		}
		raw, _ := tok.Extra("id_token").(string)
		id, err := verifier.Verify(e.ctx(), raw)
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := id.Claims(&c); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"iat", "exp", "at_hash", "jti"} {
			delete(c, k)
		}
		return c
	}
	fromForm := claims(e.signIn(b, cfg.AuthCodeURL("st4te"), "alice", "alice-password"), 0)
	fromSSO := claims(e.signIn(b, cfg.AuthCodeURL("st4te"), "alice", "alice-password"), 0)
	code := e.signIn(b, cfg.AuthCodeURL("st4te"), "alice", "alice-password")
	resp, body := postForm(t, e.issuer+sso.PathToken, map[string]string{"grant_type": "authorization_code", "code": code,
		"redirect_uri": e.rp + "/other"}, "web", webSecret)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("another redirect_uri: %d %v", resp.StatusCode, body)
	}
	if n := st.reads.Swap(0); n != 1 {
		t.Fatalf("the refusal read the code's request %d times, want 1", n)
	}
	fromStore := claims(code, 1)
	if fromForm["sid"] == nil || fromForm["auth_time"] == nil || fromForm["amr"] == nil {
		t.Fatalf("ID token without sid, auth_time or amr: %v", fromForm)
	}
	same := func(a, b any) bool { return fmtAny(a) == fmtAny(b) }
	if !maps.EqualFunc(fromForm, fromStore, same) || !maps.EqualFunc(fromSSO, fromStore, same) {
		t.Fatalf("ID token of the login form's code %v\nof op's callback's code %v\nof a code read from the store %v", fromForm, fromSSO, fromStore)
	}
}
