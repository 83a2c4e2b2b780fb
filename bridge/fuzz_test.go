package bridge_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzTokenEndpoint throws arbitrary bodies, content types and client credentials at the token
// endpoint: every answer is a well-formed RFC 6749 error or a success, never a 5xx or a panic.
func FuzzTokenEndpoint(f *testing.F) {
	e := newEnv(f)
	for _, s := range []struct{ ct, body, user string }{
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=abc", "web"},
		{"application/x-www-form-urlencoded", "grant_type=authorization_code&code=x&redirect_uri=http://127.0.0.1:9/app/callback", "web"},
		{"application/x-www-form-urlencoded", "grant_type=authorization_code&grant_type=x", "mobile"},
		{"application/json", `{"grant_type":"client_credentials"}`, ""},
		{"application/x-www-form-urlencoded; charset=utf-8", "%%%&&&===", "web"},
		{"multipart/form-data; boundary=x", "--x\r\n", "other"},
	} {
		f.Add(s.ct, s.body, s.user)
	}
	f.Fuzz(func(t *testing.T, ct, body, user string) {
		req := httptest.NewRequest(http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if user != "" {
			req.SetBasicAuth(user, webSecret)
		}
		rec := httptest.NewRecorder()
		e.bridge.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %q: %s", rec.Code, ct, body, rec.Body)
		}
		if rec.Code != 200 {
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["error"] == nil {
				t.Fatalf("status %d without error JSON: %q", rec.Code, rec.Body)
			}
		}
	})
}

// FuzzAuthorize throws arbitrary query strings at /authorize: never a 5xx, and never a redirect
// to anything but a registered redirect URI.
func FuzzAuthorize(f *testing.F) {
	e := newEnv(f)
	f.Add("client_id=web&redirect_uri=http://127.0.0.1:9/app/callback&response_type=code&scope=openid")
	f.Add("client_id=mobile&redirect_uri=http://127.0.0.1:5555/mobile/cb&response_type=code&scope=openid&code_challenge=abc&code_challenge_method=S256")
	f.Add("client_id=web&redirect_uri=https://evil.example/&response_type=token&scope=openid&prompt=none")
	f.Add("client_id=web&client_id=web&max_age=-1&prompt=none+login")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, e.issuer+"/authorize", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		e.bridge.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, query)
		}
		if loc := rec.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, "/login?") &&
			!strings.HasPrefix(loc, "http://127.0.0.1:9/app/") && !strings.HasPrefix(loc, "http://127.0.0.1:") && !strings.HasPrefix(loc, "org.example.app:/cb") {
			t.Fatalf("redirect to %q for %q", loc, query)
		}
	})
}
