package sso_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// Resource indicators (RFC 8707) narrow the access token's audience (RFC 9700 2.3): /authorize's
// resource binds the grant, a token request names its grant's resources or a subset, and a
// token narrowed away from a resource server's client is not introspectable by it.

const (
	resOrders  = "https://orders.example/api"
	resBilling = "https://billing.example/api"
	rsClient   = "inventory" // a resource server that is a client: it may introspect tokens for it
)

// narrowHarness is a harness with two member clients whose tokens may be for orders, billing
// and the inventory client: rsjwt (RFC 9068 JWT access tokens) and rsop (opaque ones), and the
// inventory resource server (a confidential client, to introspect).
func narrowHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	for _, c := range []sso.ClientConfig{
		{ID: "rsjwt", Name: "JWT", SecretHash: sso.HashSecret(webSecret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken, sso.GrantPassword, sso.GrantClientCredentials},
			Scopes:     []string{"openid", "profile", "offline_access"}, Trusted: true, AccessTokenFormat: "jwt",
			Audiences: []string{resOrders, resBilling, rsClient}},
		{ID: "rsop", Name: "Opaque", SecretHash: sso.HashSecret(webSecret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken, sso.GrantPassword},
			Scopes:     []string{"openid", "profile", "offline_access"}, Trusted: true,
			Audiences: []string{resOrders, resBilling, rsClient}},
		{ID: rsClient, Name: "Inventory", SecretHash: sso.HashSecret(svcSecret), GrantTypes: []string{sso.GrantClientCredentials},
			Scopes: []string{"api.read"}},
	} {
		addClient(t, h, c)
	}
	return h
}

func addClient(t *testing.T, h *harness, c sso.ClientConfig) {
	t.Helper()
	c.FillDefaults()
	sc, err := sso.EncodeClient(&c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateClient(t.Context(), sc); err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// narrowCode signs alice in for client with the resources and returns the code and verifier.
func (h *harness) narrowCode(client string, resources ...string) (code, verifier string) {
	h.t.Helper()
	verifier, challenge := pkce()
	opts := []oauth2.AuthCodeOption{oauthParam("code_challenge", challenge), oauthParam("code_challenge_method", "S256")}
	u, _ := url.Parse(h.oauth2Config(client, webSecret, webRedirect, "openid", "offline_access").AuthCodeURL("st", opts...))
	q := u.Query()
	q["resource"] = resources
	u.RawQuery = q.Encode()
	redirect := h.signIn(u.String(), "alice")
	if e := redirect.Query().Get("error"); e != "" {
		h.t.Fatalf("authorization error %s: %s", e, redirect.Query().Get("error_description"))
	}
	return redirect.Query().Get("code"), verifier
}

// jwtAudience verifies a JWT access token against the provider's keys and returns its aud.
func (h *harness) jwtAudience(raw string) []string {
	h.t.Helper()
	payload, err := oidc.NewRemoteKeySet(h.t.Context(), h.issuer+sso.PathKeys).VerifySignature(h.t.Context(), raw)
	if err != nil {
		h.t.Fatalf("JWT access token: %v", err)
	}
	var c struct {
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		h.t.Fatalf("JWT access token claims: %v", err)
	}
	return c.Aud
}

// introspectAs introspects token as the confidential client id:secret.
func (h *harness) introspectAs(basic, token string) map[string]any {
	h.t.Helper()
	resp := h.post(sso.PathIntrospect, url.Values{"token": {token}}, basic)
	if resp.StatusCode != 200 {
		h.t.Fatalf("introspect: %d", resp.StatusCode)
	}
	return decodeJSON(h.t, resp)
}

// audOf is introspection's aud as strings (RFC 7662 2.2: a string or an array).
func audOf(m map[string]any) []string {
	switch a := m["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func sameAud(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: aud %q, want %q", what, got, want)
	}
}

func refreshForm(rt string, kv ...string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// TestResourceNarrowsJWTAccessTokens: /authorize's resources bind the grant. The code's access
// token (exchanged by x/oauth2 without resource) is for them alone; the ID token (go-oidc) is
// still for the client alone; a refresh without resource gets the grant's set again, one naming
// a subset that subset (resource or audience), one naming a resource the client may have but
// the grant was not given invalid_target (400, RFC 6749 JSON), which neither rotates nor
// revokes the refresh token.
func TestResourceNarrowsJWTAccessTokens(t *testing.T) {
	h := narrowHarness(t)
	ctx := t.Context()
	code, verifier := h.narrowCode("rsjwt", resOrders, resBilling)
	cfg := h.oauth2Config("rsjwt", webSecret, webRedirect, "openid", "offline_access")
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	sameAud(t, "the code's access token", h.jwtAudience(tok.AccessToken), []string{resOrders, resBilling})
	prov, err := oidc.NewProvider(ctx, h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: "rsjwt"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	sameAud(t, "the ID token", idt.Audience, []string{"rsjwt"})

	// A refresh through x/oauth2 (an expired token): the grant's set.
	tok.Expiry = time.Now().Add(-time.Minute)
	next, err := cfg.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	sameAud(t, "a refresh without resource", h.jwtAudience(next.AccessToken), []string{resOrders, resBilling})
	raw, _ = next.Extra("id_token").(string)
	if idt, err = prov.Verifier(&oidc.Config{ClientID: "rsjwt"}).Verify(ctx, raw); err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	sameAud(t, "the refreshed ID token", idt.Audience, []string{"rsjwt"})

	rt := next.RefreshToken
	for _, tc := range []struct {
		name string
		kv   []string
		want []string
	}{
		{"a subset", []string{"resource", resBilling}, []string{resBilling}},
		{"the other one", []string{"resource", resOrders}, []string{resOrders}},
		{"as an audience", []string{"audience", resOrders}, []string{resOrders}},
		{"both, twice", []string{"resource", resBilling, "resource", resOrders, "audience", resBilling}, []string{resBilling, resOrders}},
		{"none again", nil, []string{resOrders, resBilling}},
	} {
		status, body, _ := h.token(refreshForm(rt, tc.kv...), "rsjwt:"+webSecret)
		if status != 200 {
			t.Fatalf("%s: %d %v", tc.name, status, body)
		}
		rt = body["refresh_token"].(string)
		sameAud(t, tc.name, h.jwtAudience(body["access_token"].(string)), tc.want)
	}

	// Outside the grant: the client's own audience, and another client's resource.
	for _, kv := range [][]string{{"resource", resOrders, "audience", rsClient}, {"audience", rsClient}, {"resource", "https://elsewhere.example/"}} {
		status, body, hdr := h.token(refreshForm(rt, kv...), "rsjwt:"+webSecret)
		if status != 400 || body["error"] != "invalid_target" || body["error_description"] == nil || hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("refresh asking %q: %d %v %q, want 400 invalid_target JSON", kv, status, body, hdr.Get("Content-Type"))
		}
	}
	status, body, _ := h.token(refreshForm(rt), "rsjwt:"+webSecret)
	if status != 200 {
		t.Fatalf("the refresh token after refused targets: %d %v", status, body)
	}
	sameAud(t, "after refused targets", h.jwtAudience(body["access_token"].(string)), []string{resOrders, resBilling})
}

// TestResourceNarrowsOpaqueTokens: the same for opaque access tokens, read through
// introspection: aud is the narrowed set, and a resource server's client may introspect a
// token only while its aud names it (a token narrowed away from it is refused).
func TestResourceNarrowsOpaqueTokens(t *testing.T) {
	h := narrowHarness(t)
	ctx := t.Context()
	owner, rs := "rsop:"+webSecret, rsClient+":"+svcSecret
	cfg := h.oauth2Config("rsop", webSecret, webRedirect, "openid", "offline_access")

	// No resource at /authorize; the code exchange names orders (x/oauth2 sends extra
	// parameters as they are given).
	code, verifier := h.narrowCode("rsop")
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauthParam("resource", resOrders))
	if err != nil {
		t.Fatal(err)
	}
	got := h.introspectAs(owner, tok.AccessToken)
	if got["active"] != true {
		t.Fatalf("the client's own narrowed token: %v", got)
	}
	sameAud(t, "the code's token narrowed to orders", audOf(got), []string{resOrders})
	if got := h.introspectAs(rs, tok.AccessToken); got["active"] != false {
		t.Fatalf("the inventory client introspecting a token narrowed to orders: %v, want inactive", got)
	}
	// Userinfo takes a narrowed token (README: the issuer's own endpoint, OIDC Core 5.3).
	info, err := mustProvider(t, h).UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != "alice" {
		t.Fatalf("userinfo with a token narrowed to orders: %+v %v", info, err)
	}

	// The grant is the client's whole set: a refresh without resource is for all three.
	status, body, _ := h.token(refreshForm(tok.RefreshToken), owner)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	at := body["access_token"].(string)
	sameAud(t, "a refresh without resource", audOf(h.introspectAs(owner, at)), []string{resOrders, resBilling, rsClient})
	if got := h.introspectAs(rs, at); got["active"] != true {
		t.Fatalf("the inventory client introspecting a token for it: %v", got)
	}
	status, body, _ = h.token(refreshForm(body["refresh_token"].(string), "audience", rsClient), owner)
	if status != 200 {
		t.Fatalf("refresh for inventory: %d %v", status, body)
	}
	if got := h.introspectAs(rs, body["access_token"].(string)); got["active"] != true || !slices.Equal(audOf(got), []string{rsClient}) {
		t.Fatalf("a token narrowed to inventory, introspected by it: %v", got)
	}

	// Bound to orders and billing at /authorize: inventory is outside the grant.
	code, verifier = h.narrowCode("rsop", resOrders, resBilling)
	if tok, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	sameAud(t, "a bound grant's code", audOf(h.introspectAs(owner, tok.AccessToken)), []string{resOrders, resBilling})
	if got := h.introspectAs(rs, tok.AccessToken); got["active"] != false {
		t.Fatalf("the inventory client introspecting a token of a grant bound to orders and billing: %v", got)
	}
	status, body, _ = h.token(refreshForm(tok.RefreshToken, "audience", rsClient), owner)
	if status != 400 || body["error"] != "invalid_target" {
		t.Fatalf("refresh outside the grant: %d %v", status, body)
	}
}

func mustProvider(t *testing.T, h *harness) *oidc.Provider {
	t.Helper()
	p, err := oidc.NewProvider(t.Context(), h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestResourceCodeExchange: the code exchange against the request's resources, entry by
// entry: without resource at /authorize the grant is the client's whole set (today's aud), and
// a token request narrows that token only; with resources, one outside them is invalid_target
// and leaves the code unused (the right request then succeeds); a replayed code revokes what it
// issued, narrowed tokens included; a code exchanged after its grant was bound is not widened
// by naming every audience of the client.
func TestResourceCodeExchange(t *testing.T) {
	h := narrowHarness(t)
	owner := "rsjwt:" + webSecret
	exchange := func(code, verifier string, kv ...string) (int, map[string]any) {
		t.Helper()
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		status, body, _ := h.token(f, owner)
		return status, body
	}
	all := []string{resOrders, resBilling, rsClient}

	// No resource at /authorize: the whole set; a token request narrows its own token only.
	code, verifier := h.narrowCode("rsjwt")
	status, body := exchange(code, verifier, "resource", resBilling)
	if status != 200 {
		t.Fatalf("exchange: %d %v", status, body)
	}
	sameAud(t, "an unbound grant's code naming billing", h.jwtAudience(body["access_token"].(string)), []string{resBilling})
	status, body, _ = h.token(refreshForm(body["refresh_token"].(string)), owner)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	sameAud(t, "an unbound grant's refresh", h.jwtAudience(body["access_token"].(string)), all)

	// Bound to orders: billing is refused and the code stays for the right request.
	code, verifier = h.narrowCode("rsjwt", resOrders)
	for _, kv := range [][]string{{"resource", resBilling}, {"resource", resOrders, "resource", resBilling}, {"audience", rsClient}} {
		if status, body := exchange(code, verifier, kv...); status != 400 || body["error"] != "invalid_target" {
			t.Fatalf("code exchange asking %q outside the request's resources: %d %v", kv, status, body)
		}
	}
	status, body = exchange(code, verifier, "resource", resOrders)
	if status != 200 {
		t.Fatalf("the code after refused targets: %d %v", status, body)
	}
	at := body["access_token"].(string)
	sameAud(t, "the bound code", h.jwtAudience(at), []string{resOrders})
	if got := h.introspectAs(owner, at); got["active"] != true {
		t.Fatalf("before the replay: %v", got)
	}
	// Replayed: refused, and the narrowed token goes with its grant (RFC 6749 4.1.2).
	if status, body := exchange(code, verifier); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("code replay: %d %v", status, body)
	}
	if got := h.introspectAs(owner, at); got["active"] != false {
		t.Fatalf("the narrowed token after its code's replay: %v", got)
	}
}

// TestResourceOtherGrants: grants without an authorization request. client_credentials narrows
// its token; the password grant's resource binds its grant (its refreshes are for it), while
// its audience narrows that token only.
func TestResourceOtherGrants(t *testing.T) {
	h := narrowHarness(t)
	owner := "rsjwt:" + webSecret
	status, body, _ := h.token(url.Values{"grant_type": {"client_credentials"}, "resource": {resOrders}}, owner)
	if status != 200 {
		t.Fatalf("client_credentials: %d %v", status, body)
	}
	sameAud(t, "client_credentials naming orders", h.jwtAudience(body["access_token"].(string)), []string{resOrders})
	status, body, _ = h.token(url.Values{"grant_type": {"client_credentials"}}, owner)
	if status != 200 {
		t.Fatalf("client_credentials: %d %v", status, body)
	}
	sameAud(t, "client_credentials naming none", h.jwtAudience(body["access_token"].(string)), []string{resOrders, resBilling, rsClient})

	status, body, _ = h.token(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"},
		"scope": {"openid offline_access"}, "resource": {resBilling}, "audience": {rsClient}}, owner)
	if status != 200 {
		t.Fatalf("password: %d %v", status, body)
	}
	sameAud(t, "the password grant's token", h.jwtAudience(body["access_token"].(string)), []string{resBilling, rsClient})
	rt := body["refresh_token"].(string)
	status, body, _ = h.token(refreshForm(rt), owner)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	sameAud(t, "the password grant's refresh", h.jwtAudience(body["access_token"].(string)), []string{resBilling})
	status, body, _ = h.token(refreshForm(body["refresh_token"].(string), "audience", rsClient), owner)
	if status != 400 || body["error"] != "invalid_target" {
		t.Fatalf("a refresh for the password grant's audience: %d %v", status, body)
	}
}

// TestResourceClientLosesAudience: a grant bound to a resource the client no longer has (an
// administrator took it from its audiences) issues no token for it: its refresh is refused
// invalid_target, not widened to the client's remaining set.
func TestResourceClientLosesAudience(t *testing.T) {
	h := narrowHarness(t)
	owner := "rsop:" + webSecret
	code, verifier := h.narrowCode("rsop", resOrders)
	tok, err := h.oauth2Config("rsop", webSecret, webRedirect).Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := h.store.Client(t.Context(), "rsop")
	if err != nil {
		t.Fatal(err)
	}
	c, err := sso.DecodeClient(sc)
	if err != nil {
		t.Fatal(err)
	}
	c.Audiences = []string{resBilling}
	if sc, err = sso.EncodeClient(c, sc.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if err := h.store.UpdateClient(t.Context(), sc); err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	status, body, _ := h.token(refreshForm(tok.RefreshToken), owner)
	if status != 400 || body["error"] != "invalid_target" {
		t.Fatalf("refresh of a grant whose resource the client lost: %d %v", status, body)
	}
}

// TestResourceRefreshReplay: a rotated refresh token presented again naming one of its grant's
// resources is reuse: refused and its family revoked with every access token it issued, the
// narrowed one included (strict rotation). Naming a target that is none of the client's
// audiences is refused first (invalid_target, before the token is read).
func TestResourceRefreshReplay(t *testing.T) {
	h := narrowHarness(t)
	owner := "rsop:" + webSecret
	code, verifier := h.narrowCode("rsop", resOrders, resBilling)
	tok, err := h.oauth2Config("rsop", webSecret, webRedirect).Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := h.token(refreshForm(tok.RefreshToken, "resource", resBilling), owner)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	narrowed := body["access_token"].(string)
	sameAud(t, "the narrowed refresh", audOf(h.introspectAs(owner, narrowed)), []string{resBilling})
	for _, kv := range [][]string{{"resource", "https://elsewhere.example/"}, {"resource", resOrders}} {
		status, body, _ = h.token(refreshForm(tok.RefreshToken, kv...), owner)
		want := "invalid_grant"
		if kv[1] == "https://elsewhere.example/" {
			want = "invalid_target" // no client audience: refused before the token is read
		}
		if status != 400 || body["error"] != want {
			t.Fatalf("the rotated token again, asking %q: %d %v, want %s", kv, status, body, want)
		}
	}
	if got := h.introspectAs(owner, narrowed); got["active"] != false {
		t.Fatalf("the narrowed token after its family's reuse: %v", got)
	}
}
