package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestRequestURINotSupported (review s11 Z3; OIDC Core 3.1.2.6, 6.2; RFC 9101 5): an
// authorization request naming a request object by reference (request_uri) is answered
// request_uri_not_supported at the client's redirect_uri, with state and iss, instead of going
// on to sign the member in with the query parameters alone (before: 302 to the login page).
// An unknown client or an unregistered redirect_uri is still not redirected to, and a request
// without request_uri still reaches the login page.
func TestRequestURINotSupported(t *testing.T) {
	h := newHarness(t)
	_, challenge := pkce()
	auth := func(client, redirect string, extra ...oauth2.AuthCodeOption) *http.Response {
		cfg := h.oauth2Config(client, webSecret, redirect, "openid")
		opts := append([]oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", challenge),
			oauth2.SetAuthURLParam("code_challenge_method", "S256")}, extra...)
		return h.get(cfg.AuthCodeURL("st-1", opts...))
	}
	byRef := oauth2.SetAuthURLParam("request_uri", "urn:example:request-object")

	resp := auth("web", webRedirect, byRef)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), webRedirect) {
		t.Fatalf("request_uri: %d Location %q, want a redirect to %s", resp.StatusCode, resp.Header.Get("Location"), webRedirect)
	}
	q := loc.Query()
	if q.Get("error") != "request_uri_not_supported" || q.Get("state") != "st-1" || q.Get("iss") != h.issuer || q.Has("code") {
		t.Errorf("request_uri answered %v, want error=request_uri_not_supported, state st-1, iss %s", q, h.issuer)
	}

	if resp := auth("web", "https://elsewhere.example/cb", byRef); resp.StatusCode == http.StatusFound &&
		strings.HasPrefix(resp.Header.Get("Location"), "https://elsewhere.example") {
		t.Errorf("request_uri with an unregistered redirect_uri was redirected there: %s", resp.Header.Get("Location"))
	}
	if resp := auth("nobody", webRedirect, byRef); resp.StatusCode == http.StatusFound &&
		strings.HasPrefix(resp.Header.Get("Location"), webRedirect) {
		t.Errorf("request_uri of an unknown client was redirected to %s", resp.Header.Get("Location"))
	}
	resp = auth("web", webRedirect)
	if l, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || l == nil || l.Path != "/login" {
		t.Errorf("a request without request_uri: %d %q, want the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
}
