package sso_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// titleCase is name with each of its words capitalised (grant_type: Grant_Type).
func titleCase(name string) string {
	b := []byte(name)
	for i := range b {
		if (i == 0 || b[i-1] == '_') && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// unicodeFold is name with a letter replaced by a non-ASCII one strings.EqualFold (op's
// decoder) takes for it: the long s for s, the Kelvin sign for k; "" when name has neither.
func unicodeFold(name string) string {
	if strings.Contains(name, "k") {
		return strings.Replace(name, "k", "\u212A", 1)
	}
	if strings.Contains(name, "s") {
		return strings.Replace(name, "s", "ſ", 1)
	}
	return ""
}

// TestParameterNameCaseEveryEndpoint (final read R1-1): every endpoint refuses a protocol
// parameter named in another case, next to its name as specified (the parameter twice) or
// alone (op's decoder would read it past the checks of the name as specified, or the provider
// would miss it): the API endpoints with 400 invalid_request in RFC 6749 JSON, the pages with
// the 400 error page. The name as specified is taken. Before, the API endpoints took a lone
// variant: Token=... was introspected and revoked, Access_Token in the body was used at
// userinfo, Scope=... was ignored at the token and device authorization endpoints; the pages
// refused a lone variant only of the authorization and end-session requests' names.
func TestParameterNameCaseEveryEndpoint(t *testing.T) {
	h := newHarness(t, withErrorPage)
	web, tv, svc := "web:"+webSecret, "tv:"+webSecret, "svc:"+svcSecret
	tok := h.tokens("alice", "openid", "offline_access")
	revocable := h.tokens("alice", "openid")
	idt, _ := tok.Extra("id_token").(string)
	type endpoint struct {
		name, method, path string
		basic              string
		form               url.Values // the request with every name as specified
		names              []string   // the names tried in other cases
		wantOK             int        // the status of the request as specified
	}
	endpoints := []endpoint{
		{"token, client credentials", http.MethodPost, sso.PathToken, svc,
			url.Values{"grant_type": {sso.GrantClientCredentials}, "scope": {"api.read"}}, []string{"grant_type", "scope"}, 200},
		{"token, refresh", http.MethodPost, sso.PathToken, web,
			url.Values{"grant_type": {sso.GrantRefreshToken}, "refresh_token": {tok.RefreshToken}}, []string{"refresh_token"}, 200},
		{"introspection", http.MethodPost, sso.PathIntrospect, web,
			url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, []string{"token", "token_type_hint"}, 200},
		{"device authorization", http.MethodPost, sso.PathDeviceAuthzEP, tv,
			url.Values{"scope": {"openid"}}, []string{"scope"}, 200},
		{"userinfo", http.MethodPost, sso.PathUserinfo, "",
			url.Values{"access_token": {tok.AccessToken}}, []string{"access_token"}, 200},
		{"revocation", http.MethodPost, sso.PathRevoke, web,
			url.Values{"token": {revocable.AccessToken}}, []string{"token"}, 200},
		{"authorization", http.MethodGet, sso.PathAuthorize, "",
			url.Values{"client_id": {"web"}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {webRedirect}, "state": {"st"}},
			[]string{"redirect_uri", "client_id", "scope"}, http.StatusFound},
		{"authorization callback", http.MethodGet, sso.PathAuthCallback, "",
			url.Values{"id": {"none"}, "client_id": {"web"}}, []string{"client_id"}, http.StatusBadRequest},
		{"end session", http.MethodGet, sso.PathEndSession, "",
			url.Values{"id_token_hint": {idt}, "client_id": {"web"}, "post_logout_redirect_uri": {"https://rp.example/bye"}},
			[]string{"id_token_hint", "post_logout_redirect_uri"}, http.StatusFound},
	}
	send := func(e endpoint, form url.Values) *http.Response {
		t.Helper()
		if e.method == http.MethodGet {
			return h.get(e.path + "?" + form.Encode())
		}
		return h.post(e.path, form, e.basic)
	}
	for _, e := range endpoints {
		for _, name := range e.names {
			variants := []string{titleCase(name), strings.ToUpper(name)}
			if u := unicodeFold(name); u != "" {
				variants = append(variants, u)
			}
			for _, variant := range variants {
				for _, c := range []struct {
					kind     string
					keepName bool   // the name as specified stays next to the variant
					pageText string // the page's refusal
				}{
					{"pair", true, "repeats the parameter"},
					{"lone", false, "in another case"},
				} {
					t.Run(e.name+"/"+c.kind+"/"+variant, func(t *testing.T) {
						form := url.Values{}
						for k, v := range e.form {
							form[k] = v
						}
						form[variant] = []string{"other"}
						if !c.keepName {
							form[variant] = e.form[name]
							delete(form, name)
						}
						resp := send(e, form)
						if e.method == http.MethodGet {
							body, _ := io.ReadAll(resp.Body)
							if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), c.pageText) {
								t.Fatalf("got %d %q, want the 400 page %q", resp.StatusCode, body, c.pageText)
							}
							return
						}
						body := decodeJSON(t, resp)
						if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" ||
							!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
							t.Fatalf("got %d %v, want 400 invalid_request JSON", resp.StatusCode, body)
						}
					})
				}
			}
		}
		t.Run(e.name+"/exact", func(t *testing.T) {
			resp := send(e, e.form)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != e.wantOK || strings.Contains(string(body), "another case") || strings.Contains(string(body), "repeat") {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, body, e.wantOK)
			}
		})
	}
}
