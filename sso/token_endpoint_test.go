package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ssobridge/ssobridge/sso"
)

// TestTokenEndpointErrors pins the token endpoint's RFC 6749 5.2 answers: the error code, the
// status, the Basic challenge on 401, and no caching.
func TestTokenEndpointErrors(t *testing.T) {
	h := newHarness(t)
	web := "web:" + webSecret
	tests := []struct {
		name   string
		form   url.Values
		basic  string
		status int
		code   string
	}{
		{"wrong secret (Basic)", url.Values{"grant_type": {"client_credentials"}}, "svc:wrong", 401, "invalid_client"},
		{"unknown client (Basic)", url.Values{"grant_type": {"client_credentials"}}, "nobody:secret", 401, "invalid_client"},
		{"wrong secret (post)", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"wrong"}}, "", 401, "invalid_client"},
		{"no client authentication", url.Values{"grant_type": {"client_credentials"}}, "", 401, "invalid_client"},
		{"confidential client without its secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}}, "", 401, "invalid_client"},
		{"public client with a secret", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"spa"}, "client_secret": {"x"}}, "", 401, "invalid_client"},
		{"client assertion (private_key_jwt is not supported)", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"x.y.z"}}, "", 401, "invalid_client"},
		{"Basic and client_secret together", url.Values{"grant_type": {"client_credentials"}, "client_secret": {svcSecret}}, "svc:" + svcSecret, 400, "invalid_request"},
		{"unknown grant type", url.Values{"grant_type": {"urn:example:magic"}}, web, 400, "unsupported_grant_type"},
		{"grant not allowed for the client", url.Values{"grant_type": {"client_credentials"}}, web, 400, "unauthorized_client"},
		{"invalid code", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {webRedirect}}, web, 400, "invalid_grant"},
		{"missing code", url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {webRedirect}}, web, 400, "invalid_request"},
		{"invalid refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, web, 400, "invalid_grant"},
		{"scope beyond the client's", url.Values{"grant_type": {"client_credentials"}, "scope": {"api.admin"}}, "svc:" + svcSecret, 400, "invalid_scope"},
		{"password: wrong credentials", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"no"}}, web, 400, "invalid_grant"},
		{"password: missing password", url.Values{"grant_type": {"password"}, "username": {"alice"}}, web, 400, "invalid_request"},
		{"token exchange: refused subject token", url.Values{"grant_type": {sso.GrantTokenExchange}, "subject_token": {"bad"}, "subject_token_type": {amsTokenType}}, web, 400, "invalid_grant"},
		{"token exchange: unknown subject token type", url.Values{"grant_type": {sso.GrantTokenExchange}, "subject_token": {"ams:alice"}, "subject_token_type": {"urn:x"}}, web, 400, "invalid_request"},
		{"device code: unknown", url.Values{"grant_type": {sso.GrantDeviceCode}, "device_code": {"nope"}}, "tv:" + webSecret, 400, "invalid_grant"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, "svc:" + svcSecret, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := h.token(tc.form, tc.basic)
			if status != tc.status || body["error"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", hdr.Get("Cache-Control"))
			}
			if got := hdr.Get("WWW-Authenticate"); (status == 401) != strings.HasPrefix(got, "Basic ") {
				t.Errorf("status %d with WWW-Authenticate %q", status, got)
			}
		})
	}
}

// TestTokenEndpointRequestShape: POST only, form-encoded, parameters in the body.
func TestTokenEndpointRequestShape(t *testing.T) {
	h := newHarness(t)
	form := url.Values{"grant_type": {"client_credentials"}}
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"GET", func() *http.Request { r, _ := http.NewRequest(http.MethodGet, h.issuer+sso.PathToken, nil); return r }, 405},
		{"JSON body", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, h.issuer+sso.PathToken, strings.NewReader(`{"grant_type":"client_credentials"}`))
			r.Header.Set("Content-Type", "application/json")
			r.SetBasicAuth("svc", svcSecret)
			return r
		}, 400},
		{"parameters in the query", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, h.issuer+sso.PathToken+"?"+form.Encode(), strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("svc", svcSecret)
			return r
		}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.http.Do(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			body := decodeJSON(t, resp)
			if resp.StatusCode != tc.status || body["error"] != "invalid_request" {
				t.Fatalf("got %d %v, want %d invalid_request", resp.StatusCode, body, tc.status)
			}
		})
	}
}

// TestClientAuthMethods: client_secret_basic with RFC 6749 2.3.1 form-encoding (a secret with
// reserved characters), client_secret_post, and x/oauth2's own encodings of both.
func TestClientAuthMethods(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	for _, style := range []struct {
		name  string
		style oauth2.AuthStyle
	}{{"basic", oauth2.AuthStyleInHeader}, {"post", oauth2.AuthStyleInParams}} {
		t.Run(style.name, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: "odd", ClientSecret: odd, TokenURL: h.issuer + sso.PathToken, AuthStyle: style.style}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("token: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken != "" {
				t.Fatalf("client_credentials token: %+v", tok)
			}
			cc.ClientSecret = odd + "x"
			if _, err := cc.Token(ctx); oauthErr(err) != "invalid_client" {
				t.Fatalf("wrong secret: %v", err)
			}
		})
	}
	// A Basic header that is not form-encoded: '+' decodes to a space.
	req, _ := http.NewRequest(http.MethodPost, h.issuer+sso.PathToken, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("odd", odd)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := decodeJSON(t, resp); resp.StatusCode != 401 || body["error"] != "invalid_client" {
		t.Fatalf("raw Basic secret: %d %v", resp.StatusCode, body)
	}
	if !h.hooks.sawEvent("client.auth_failure") {
		t.Fatal("no client.auth_failure event")
	}
}

func TestClientCredentialsGrant(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name   string
		scopes []string
		want   string
		err    string
	}{
		{"all configured scopes by default", nil, "api.read api.write", ""},
		{"a subset", []string{"api.read"}, "api.read", ""},
		{"an unknown scope", []string{"api.read", "api.admin"}, "", "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: "svc", ClientSecret: svcSecret, TokenURL: h.issuer + sso.PathToken, Scopes: tc.scopes}
			tok, err := cc.Token(t.Context())
			if tc.err != "" {
				if oauthErr(err) != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := tok.Extra("scope").(string); got != tc.want {
				t.Fatalf("scope = %q, want %q", got, tc.want)
			}
			if tok.Extra("id_token") != nil || tok.RefreshToken != "" {
				t.Fatal("client_credentials issued an ID or refresh token")
			}
		})
	}
}

// TestEveryGrantSharesTheChecks: whatever the grant, the shared token handler authenticates
// the client before the grant runs (a wrong secret is 401 invalid_client, and the code it
// carried is still good), and refuses a grant the client was not given.
func TestEveryGrantSharesTheChecks(t *testing.T) {
	h := newHarness(t)
	grants := []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken, sso.GrantClientCredentials,
		sso.GrantDeviceCode, sso.GrantTokenExchange, sso.GrantPassword}
	for _, gt := range grants {
		t.Run(gt, func(t *testing.T) {
			code, verifier := h.code("alice", "openid")
			form := url.Values{"grant_type": {gt}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
			status, body, hdr := h.token(form, "web:wrong")
			if status != 401 || body["error"] != "invalid_client" || hdr.Get("WWW-Authenticate") == "" {
				t.Fatalf("wrong secret: %d %v", status, body)
			}
			// A client without this grant ("svc" has client_credentials only, "tv" has no
			// client_credentials).
			client := "svc:" + svcSecret
			if gt == sso.GrantClientCredentials {
				client = "tv:" + webSecret
			}
			if status, body, _ = h.token(form, client); status != 400 || body["error"] != "unauthorized_client" {
				t.Fatalf("client without the grant: %d %v", status, body)
			}
			// The code survived both refusals.
			form.Set("grant_type", sso.GrantAuthorizationCode)
			if status, body, _ = h.token(form, "web:"+webSecret); status != 200 {
				t.Fatalf("the code after the refusals: %d %v", status, body)
			}
		})
	}
}

// TestKnownGrantIsTheGrantList: client validation and the token endpoint know exactly the
// grants in grantKinds, so a new grant is one file plus one line there.
func TestKnownGrantIsTheGrantList(t *testing.T) {
	for _, k := range sso.GrantTypes() {
		if !sso.KnownGrant(k) {
			t.Errorf("%s not known", k)
		}
		c := sso.ClientConfig{ID: "c", SecretHash: sso.HashSecret("0123456789abcdef0123456789abcdef"), GrantTypes: []string{k},
			RedirectURIs: []string{"https://app.example/cb"}}
		if err := c.Validate(); err != nil && strings.Contains(err.Error(), "unknown grant type") {
			t.Errorf("%s refused by client validation: %v", k, err)
		}
	}
	for _, g := range []string{"implicit", "", "urn:ietf:params:oauth:grant-type:jwt-bearer"} {
		if sso.KnownGrant(g) {
			t.Errorf("%q known", g)
		}
	}
}

// TestAPIParameterInAnotherCaseRefused: op's decoder reads a parameter's name in any case
// (introspection, revocation, the code grant's decoder); an API request naming a parameter
// twice in two cases is the parameter repeated (RFC 6749 3.1, 3.2) and refused before any
// grant or op sees it: a valid refresh_token next to a Refresh_Token, a token to introspect
// next to a TOKEN or a to\u212Aen (the Kelvin sign folds to k; op took either, by map order), a
// code next to a Code, a public client's client_id next to a Client_Id.
func TestAPIParameterInAnotherCaseRefused(t *testing.T) {
	h := newHarness(t)
	tok := h.tokens("alice", "openid", "offline_access")
	web := "web:" + webSecret
	for _, tc := range []struct {
		name, path string
		form       url.Values
		basic      string
	}{
		{"refresh grant", sso.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "Refresh_Token": {"other"}}, web},
		{"code grant", sso.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "Code": {"y"}, "redirect_uri": {webRedirect}}, web},
		{"introspection", sso.PathIntrospect, url.Values{"token": {tok.AccessToken}, "TOKEN": {"other"}}, web},
		{"introspection, Kelvin sign", sso.PathIntrospect, url.Values{"token": {tok.AccessToken}, "to\u212Aen": {"other"}}, web},
		{"revocation", sso.PathRevoke, url.Values{"token": {tok.AccessToken}, "client_id": {"spa"}, "Client_Id": {"web"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.post(tc.path, tc.form, tc.basic)
			body := decodeJSON(t, resp)
			if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
				t.Fatalf("got %d %v, want 400 invalid_request", resp.StatusCode, body)
			}
		})
	}
}
