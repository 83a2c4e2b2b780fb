package sso_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestRefreshResponseMatchesEncoder: the refresh grant's response, written straight into a
// pooled buffer with the ID token signed in place (tokenResponseBody), is byte for byte what
// encoding/json's Encoder writes for the same response, refresh after refresh (the buffers
// reused), also with a narrowed scope; the ID token verifies and has its sid and at_hash; the
// headers are the token endpoint's.
func TestRefreshResponseMatchesEncoder(t *testing.T) {
	h := newHarness(t)
	prov, err := gooidc.NewProvider(t.Context(), h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := prov.Verifier(&gooidc.Config{ClientID: "web"})
	const granted = "openid profile offline_access"
	rt := h.tokens("alice", strings.Fields(granted)...).RefreshToken
	for i, scope := range []string{"", "", "openid offline_access", ""} {
		form := "grant_type=refresh_token&refresh_token=" + rt
		if scope != "" {
			form += "&scope=" + strings.ReplaceAll(scope, " ", "+")
		}
		req := httptest.NewRequest(http.MethodPost, h.issuer+"/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("web", webSecret)
		rec := httptest.NewRecorder()
		h.p.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("refresh %d: %d %s", i, rec.Code, rec.Body)
		}
		var resp oidc.AccessTokenResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if resp.IDToken == "" || resp.AccessToken == "" || resp.RefreshToken == "" || resp.TokenType != "Bearer" || resp.ExpiresIn == 0 {
			t.Fatalf("refresh %d: incomplete response %s", i, rec.Body)
		}
		if want := cmp.Or(scope, granted); strings.Join(resp.Scope, " ") != want {
			t.Fatalf("refresh %d: scope %q, want %q", i, resp.Scope, want)
		}
		idt, err := verifier.Verify(t.Context(), resp.IDToken)
		if err != nil {
			t.Fatalf("refresh %d: ID token: %v", i, err)
		}
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil || idt.Subject != "alice" || claims["sid"] == nil || claims["at_hash"] == nil {
			t.Fatalf("refresh %d: ID token claims %v, %v", i, claims, err)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(&resp); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Body.Bytes(), want.Bytes()) {
			t.Fatalf("refresh %d:\n got %s\nwant %s", i, rec.Body.Bytes(), want.Bytes())
		}
		if hd := rec.Header(); hd.Get("Content-Type") != "application/json" || hd.Get("Cache-Control") != "no-store" || hd.Get("Pragma") != "no-cache" {
			t.Fatalf("refresh %d: headers %v", i, hd)
		}
		rt = resp.RefreshToken
	}
}
