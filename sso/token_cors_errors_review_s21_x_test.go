package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestTokenRefusalsReadableCrossOrigin (review s21 X21-3): a browser app reads the token
// endpoint's refusals of a grant it may not use as it reads invalid_grant: from its registered
// origin the answer carries Access-Control-Allow-Origin, so the app sees RFC 6749 5.2's JSON
// instead of an opaque network error. From another origin the answer stays 403 without it.
func TestTokenRefusalsReadableCrossOrigin(t *testing.T) {
	h := newHarness(t)
	post := func(origin string, form url.Values) *http.Response {
		return h.do(http.MethodPost, sso.PathToken, strings.NewReader(form.Encode()),
			"Content-Type", "application/x-www-form-urlencoded", "Origin", origin)
	}
	for _, tc := range []struct {
		name, code string
		form       url.Values
	}{
		{"grant the client may not use", "unauthorized_client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}},
		{"unknown grant", "unsupported_grant_type", url.Values{"grant_type": {"urn:example:nope"}, "client_id": {"spa"}}},
		{"no grant_type", "invalid_request", url.Values{"client_id": {"spa"}}},
		{"bad code", "invalid_grant", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "client_id": {"spa"},
			"redirect_uri": {"https://spa.example/cb"}, "code_verifier": {strings.Repeat("a", 43)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post("https://spa.example", tc.form)
			body := decodeJSON(t, resp)
			if resp.StatusCode != http.StatusBadRequest || body["error"] != tc.code ||
				resp.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" {
				t.Fatalf("from the app's origin: %d %v, Access-Control-Allow-Origin %q", resp.StatusCode, body,
					resp.Header.Get("Access-Control-Allow-Origin"))
			}
			resp = post("https://evil.example", tc.form)
			body = decodeJSON(t, resp)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("from another origin: %d %v, Access-Control-Allow-Origin %q", resp.StatusCode, body,
					resp.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
}

// TestAPIRefusalsBeforeAuthenticationReadableCrossOrigin (review s21 X21-3): the API
// endpoints' refusals made before the client is known (a request of the wrong shape, a failed
// client authentication) carry Access-Control-Allow-Origin for an origin registered for some
// client, as the preflight allows, so a browser app reads them; for any other origin they do
// not. A request that then passes has its client's own policy: a registered origin of another
// client is refused 403 without the header.
func TestAPIRefusalsBeforeAuthenticationReadableCrossOrigin(t *testing.T) {
	h := newHarness(t)
	post := func(path, origin, body string) *http.Response {
		return h.do(http.MethodPost, path, strings.NewReader(body),
			"Content-Type", "application/x-www-form-urlencoded", "Origin", origin)
	}
	for _, tc := range []struct {
		name, path, body, code string
		status                 int
	}{
		{"a public client with a secret", sso.PathToken, "grant_type=authorization_code&code=x&client_id=spa&client_secret=s", "invalid_client", 401},
		{"a repeated parameter", sso.PathToken, "grant_type=refresh_token&client_id=spa&client_id=spa", "invalid_request", 400},
		{"no client", sso.PathRevoke, "token=x", "invalid_client", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(tc.path, "https://spa.example", tc.body)
			body := decodeJSON(t, resp)
			if resp.StatusCode != tc.status || body["error"] != tc.code || resp.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" {
				t.Fatalf("from a registered origin: %d %v, Access-Control-Allow-Origin %q", resp.StatusCode, body,
					resp.Header.Get("Access-Control-Allow-Origin"))
			}
			resp = post(tc.path, "https://evil.example", tc.body)
			if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != tc.status || got != "" {
				t.Fatalf("from another origin: %d, Access-Control-Allow-Origin %q", resp.StatusCode, got)
			}
		})
	}
	// web is confidential with no web origin: spa's origin is refused once web has authenticated.
	resp := post(sso.PathRevoke, "https://spa.example", "token=x&client_id=web&client_secret="+url.QueryEscape(webSecret))
	if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != http.StatusForbidden || got != "" {
		t.Fatalf("another client's origin after authentication: %d, Access-Control-Allow-Origin %q", resp.StatusCode, got)
	}
}
