package bridge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
)

// TestUpstreamLogoutAnswers (brief s21 G2 item 3; Back-Channel Logout 1.0 section 2.8): every
// answer of the upstream back-channel logout endpoint: 200 for a logout done, 400 with a JSON
// error for a request that is invalid (unknown provider, no token, not a logout token, a
// replay) or whose logout failed (TestUpstreamLogoutFailureAnsweredAndRetried: a store
// failure), each with Cache-Control: no-store.
func TestUpstreamLogoutAnswers(t *testing.T) {
	f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	b := newHTTPFed(t, f)
	if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); p.Location == "" {
		t.Fatalf("upstream sign-in did not reach the app: %d %.400s", p.Status, p.Body)
	}
	tok, err := f.up.bridge.Keys().SignLogoutToken("RS256", sso.LogoutToken{Issuer: f.up.issuer, Audience: "association",
		Subject: identitySubject(t, f.up, mustMember(t, f.up, "alice").Key)})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := f.down.issuer + "/upstream/corp/backchannel-logout"
	for _, tc := range []struct {
		name, url string
		form      map[string]string
		status    int
		code      string
	}{
		{"unknown provider", f.down.issuer + "/upstream/nope/backchannel-logout", map[string]string{"logout_token": tok}, http.StatusBadRequest, "invalid_request"},
		{"no token", endpoint, map[string]string{}, http.StatusBadRequest, "invalid_request"},
		{"not a JWT", endpoint, map[string]string{"logout_token": "not-a-jwt"}, http.StatusBadRequest, "invalid_request"},
		{"an ID token", endpoint, map[string]string{"logout_token": idTokenOf(t, f)}, http.StatusBadRequest, "invalid_request"},
		{"the logout", endpoint, map[string]string{"logout_token": tok}, http.StatusOK, ""},
		{"its replay", endpoint, map[string]string{"logout_token": tok}, http.StatusBadRequest, "invalid_request"},
	} {
		resp, body := postForm(t, tc.url, tc.form)
		if resp.StatusCode != tc.status || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d (Cache-Control %q) %v, want %d", tc.name, resp.StatusCode, resp.Header.Get("Cache-Control"), body, tc.status)
		}
		if tc.code != "" && (body["error"] != tc.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")) {
			t.Fatalf("%s: %s %v, want a JSON error %s", tc.name, resp.Header.Get("Content-Type"), body, tc.code)
		}
	}
	if s, _ := f.down.store.Sessions(context.Background(), f.subject("alice")); len(s) != 0 {
		t.Fatalf("bridge sessions after the logout: %d", len(s))
	}
}
