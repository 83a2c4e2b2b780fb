package bridge_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// expiredCopy re-signs the ID token raw with the bridge's current key for its alg, its iat and
// exp moved an hour and more into the past: the ID token an app kept from this sign-in, expired.
func expiredCopy(t *testing.T, e *env, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var h struct {
		Alg string `json:"alg"`
	}
	var claims map[string]any
	if json.Unmarshal(hdr, &h) != nil || json.Unmarshal(body, &claims) != nil {
		t.Fatalf("not an ID token: %q", raw)
	}
	now := time.Now()
	claims["iat"], claims["exp"], claims["auth_time"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
	payload, _ := json.Marshal(claims)
	k, err := e.bridge.Keys().SigningKey(h.Alg)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.SignatureAlgorithm(), Key: jose.JSONWebKey{Key: k.Key(), KeyID: k.ID()}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEndSessionWithExpiredHint (review s20, proof; RP-Initiated Logout 1.0 sections 2 and 4:
// the OP SHOULD accept an ID token whose exp has passed when the RP has, or had, a session;
// it MUST ask the member when the hint does not belong to the current OP session): an expired
// ID token of this browser's session signs it out at once and comes back to the app's
// registered post_logout_redirect_uri with its state; the same expired token presented in a
// browser holding a later session of the same member (the token's session is over) asks first
// and ends nothing.
func TestEndSessionWithExpiredHint(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	tok, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	hint := expiredCopy(t, e, tok.Extra("id_token").(string))
	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {e.rp + "/signed-out"}, "state": {"st-1"}}
	out := b.Get(e.issuer + "/end_session?" + q.Encode())
	if !strings.HasPrefix(out.Location, e.rp+"/signed-out") || out.Redirected(t).Get("state") != "st-1" {
		t.Fatalf("end_session with this session's expired ID token: %d %q, want the app's signed-out URI with its state", out.Status, out.Location)
	}
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("still signed in after end_session with this session's expired ID token")
	}
	// A later session of alice in another browser: the expired token of the ended one asks.
	b2 := e.browser()
	e.signIn(b2, web.AuthCodeURL("s2"), "alice", "alice-password")
	p := b2.Get(e.issuer + "/end_session?" + q.Encode())
	if p.Location != "" || p.Status != http.StatusOK || !strings.Contains(p.Body, "Sign out?") {
		t.Fatalf("expired hint of an ended session: %d %q %.300s, want the confirmation page", p.Status, p.Location, p.Body)
	}
	if b2.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatal("an expired ID token of an ended session signed another session out without asking")
	}
}
