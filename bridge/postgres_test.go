package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/storecopy"
)

// onPostgres is an envDeps whose store is PostgreSQL, a fresh database per env (skipped without
// SSOBRIDGE_TEST_POSTGRES_DSN, failed in CI). With dsn set, that database is used instead.
func onPostgres(dsn string) envDeps {
	return envDeps{store: func(t testing.TB) store.Store {
		d := dsn
		if d == "" {
			d = pgtest.NewDatabase(t)
		}
		s, err := postgres.Open(t.Context(), d)
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}}
}

// TestSignInOnPostgres: the whole sign-in, code exchange, refresh (with reuse detection) and
// userinfo on the PostgreSQL store.
func TestSignInOnPostgres(t *testing.T) {
	pgtest.AdminDSN(t)
	e := newEnvDeps(t, false, nil, onPostgres(""))
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	tok, err := web.Exchange(e.ctx(), e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string)); err != nil {
		t.Fatalf("ID token: %v", err)
	}
	refresh := func(rt string) (int, string) {
		rec := e.serve(tokenReq(e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", webSecret))
		body := rec.Body.String()
		i := strings.Index(body, `"refresh_token":"`)
		if i < 0 {
			return rec.Code, body
		}
		i += len(`"refresh_token":"`)
		return rec.Code, body[i : i+strings.IndexByte(body[i:], '"')]
	}
	code, next := refresh(tok.RefreshToken)
	if code != 200 {
		t.Fatalf("refresh: %d %s", code, next)
	}
	// The old token again: reuse, and the family (with its new token) is revoked.
	if code, body := refresh(tok.RefreshToken); code != 400 || !strings.Contains(body, "invalid_grant") {
		t.Fatalf("reused refresh token: %d %s", code, body)
	}
	if code, body := refresh(next); code != 400 {
		t.Fatalf("refresh after reuse revoked the family: %d %s", code, body)
	}
	if code := userinfo(t, e, tok.AccessToken); code != http.StatusUnauthorized {
		t.Fatalf("userinfo with a revoked family's access token: %d", code)
	}
}

func userinfo(t *testing.T, e *env, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStoreCopyKeepsMembersSignedIn: a member signed in on a bridge over SQLite; its store is
// copied into PostgreSQL and a bridge over the copy (same configuration and encryption key)
// accepts the member's access token at userinfo and refreshes the member's refresh token.
func TestStoreCopyKeepsMembersSignedIn(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a := newEnv(t)
	web, _ := a.oauth("web", webSecret, a.rp+"/callback", oauth2.AuthStyleInHeader)
	tok, err := web.Exchange(a.ctx(), a.signIn(a.browser(), web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := storecopy.Copy(t.Context(), a.store, dst, storecopy.Options{}); err != nil {
		t.Fatalf("copy: %v", err)
	}

	b := newEnvDeps(t, false, nil, onPostgres(dsn))
	if code := userinfo(t, b, tok.AccessToken); code != http.StatusOK {
		t.Fatalf("userinfo on the copy with the access token issued before: %d", code)
	}
	rec := b.serve(tokenReq(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web", webSecret))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"refresh_token"`) {
		t.Fatalf("refresh on the copy: %d %s", rec.Code, rec.Body)
	}
}
