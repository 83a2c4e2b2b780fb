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

// TestLoginFormCodeExchangeReadsNoRequest: the code of a sign-in through the login form is
// exchanged without reading its request back (the provider keeps what the sign-in's one write
// committed), and its ID token says what one from a code read from the store says: the same
// browser's next sign-in (its live session, op's callback) is exchanged with a read, for the
// same session, member and methods.
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
	fromStore := claims(e.signIn(b, cfg.AuthCodeURL("st4te"), "alice", "alice-password"), 1)
	if fromForm["sid"] == nil || fromForm["auth_time"] == nil || fromForm["amr"] == nil {
		t.Fatalf("ID token without sid, auth_time or amr: %v", fromForm)
	}
	if !maps.EqualFunc(fromForm, fromStore, func(a, b any) bool { return fmtAny(a) == fmtAny(b) }) {
		t.Fatalf("ID token of the login form's code %v\nof a code read from the store %v", fromForm, fromStore)
	}
}
