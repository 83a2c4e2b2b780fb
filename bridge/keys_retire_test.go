package bridge_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestRetiredKeyTokensRefused (review s12 W6): the admin API withdraws the key that signs RS256
// (its private key may be out): it leaves /keys at once, a successor signs the next tokens,
// and the tokens the withdrawn key signed are refused by userinfo and introspection (as an
// RP's JWKS check refuses them), and as an id_token_hint; the withdrawal is audited, and a
// second one of the same key is 404.
func TestRetiredKeyTokensRefused(t *testing.T) {
	e, a := adminEnv(t, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "legacy" {
				c.Clients[i].AccessTokenFormat = "jwt"
			}
		}
	})
	legacy := &oauth2.Config{ClientID: "legacy", ClientSecret: legacySecret, Endpoint: e.endpoint(),
		Scopes: []string{"openid", "profile", "offline_access"}}
	tok, err := legacy.PasswordCredentialsToken(e.ctx(), "alice", "alice-password")
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	rawID := tok.Extra("id_token").(string)
	suspect := kidOf(t, tok.AccessToken)
	if kidOf(t, rawID) != suspect {
		t.Fatal("the ID token and the access token are signed by different RS256 keys")
	}
	userinfo := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, _ := doJSON(t, req)
		return resp.StatusCode
	}
	active := func(token string) any {
		t.Helper()
		_, in := introspect(t, e, token, "legacy", legacySecret)
		return in["active"]
	}
	if s, act := userinfo(tok.AccessToken), active(tok.AccessToken); s != 200 || act != true {
		t.Fatalf("before the withdrawal: userinfo %d, introspection active %v", s, act)
	}
	if !slices.Contains(publishedKids(t, e), suspect) {
		t.Fatal("the signing key is not in /keys")
	}

	retired := a.ok(http.MethodPost, "/admin/keys/"+suspect+"/retire", nil)
	succ, _ := retired["successor"].(map[string]any)
	if retired["retired"] != suspect || succ == nil || succ["alg"] != "RS256" || succ["signing"] != true {
		t.Fatalf("retire: %v", retired)
	}
	successor := succ["kid"].(string)

	kids := publishedKids(t, e)
	if slices.Contains(kids, suspect) || !slices.Contains(kids, successor) {
		t.Fatalf("/keys after the withdrawal: %v (withdrawn %s, successor %s)", kids, suspect, successor)
	}
	list := a.ok(http.MethodGet, "/admin/keys", nil)["keys"].([]any)
	for _, k := range list {
		if k.(map[string]any)["kid"] == suspect {
			t.Fatalf("GET /admin/keys still lists the withdrawn key: %v", list)
		}
	}
	if s := userinfo(tok.AccessToken); s != http.StatusUnauthorized {
		t.Fatalf("userinfo with a token of the withdrawn key: %d, want 401", s)
	}
	if act := active(tok.AccessToken); act != false {
		t.Fatalf("introspection of a token of the withdrawn key: active %v, want false", act)
	}
	// An RP holding an ID token of the withdrawn key as its hint is not taken at its word at
	// end_session: the hint is dropped and the member asked to confirm (no redirect to the app;
	// TestSignOutWithHintOfWithdrawnKey signs out through it).
	resp, err := e.srv.Client().Get(e.issuer + "/end_session?id_token_hint=" + rawID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("end_session with an id_token_hint of the withdrawn key: %d, want 200 (the confirmation page)", resp.StatusCode)
	}

	// The member's refresh token goes on: new tokens, signed by the successor, verify.
	fresh, err := legacy.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh after the withdrawal: %v", err)
	}
	if k := kidOf(t, fresh.AccessToken); k != successor {
		t.Fatalf("the refreshed access token is signed by %s, want the successor %s", k, successor)
	}
	if _, err := oidc.NewRemoteKeySet(e.ctx(), e.issuer+"/keys").VerifySignature(e.ctx(), fresh.Extra("id_token").(string)); err != nil {
		t.Fatalf("the successor's ID token does not verify against /keys: %v", err)
	}
	if s := userinfo(fresh.AccessToken); s != 200 {
		t.Fatalf("userinfo with the successor's token: %d", s)
	}

	events, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "admin.signing_key_retired", Since: time.Now().Add(-time.Hour)})
	if err != nil || len(events) != 1 || !strings.Contains(events[0].Detail, suspect) || !strings.Contains(events[0].Detail, "admin-api@") {
		t.Fatalf("audit: %v %+v", err, events)
	}
	if status, _, body := a.do(http.MethodPost, "/admin/keys/"+suspect+"/retire", adminToken, nil); status != http.StatusNotFound {
		t.Fatalf("retiring the withdrawn key again: %d %v", status, body)
	}
}

// kidOf is the kid in a JWS's protected header.
func kidOf(t *testing.T, raw string) string {
	t.Helper()
	sig, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("not a JWS: %v", err)
	}
	return sig.Signatures[0].Protected.KeyID
}

// publishedKids are the key ids /keys publishes.
func publishedKids(t *testing.T, e *env) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/keys", nil)
	_, set := doJSON(t, req)
	var out []string
	keys, _ := set["keys"].([]any)
	for _, k := range keys {
		out = append(out, k.(map[string]any)["kid"].(string))
	}
	return out
}
