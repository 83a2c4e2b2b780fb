package bridge_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAPIHeadersPinned pins the security headers of every JSON endpoint for programs (token,
// UserInfo, introspection, revocation, device authorization), their answers and their errors,
// over an http and an https issuer: the API set (web apiHeaders: nosniff, the minimal CSP,
// X-Frame-Options, HSTS with https), each header present with its value or absent (no
// Referrer-Policy, no Cross-Origin-Opener-Policy, not the pages' CSP). A successful answer
// keeps its header map at 8 entries or fewer (Date and a short body's Content-Length are
// net/http's own): past 8, Go's map grows into a table, cloned again on every response. The
// login page keeps the pages' set.
func TestAPIHeadersPinned(t *testing.T) {
	const (
		apiCSP  = "default-src 'none'; frame-ancestors 'none'"
		pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
	)
	security := []string{"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "Cross-Origin-Opener-Policy",
		"Content-Security-Policy", "Strict-Transport-Security"}
	for _, https := range []bool{false, true} {
		t.Run(fmt.Sprintf("https=%v", https), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			base := "http://" + ln.Addr().String()
			issuer := base
			if https {
				issuer = "https://" + ln.Addr().String() // served over http here: the headers are the issuer's
			}
			e := newEnvAt(t, ln, issuer, false, nil, envDeps{}, withGrantClients)
			api := map[string]string{"X-Content-Type-Options": "nosniff", "Content-Security-Policy": apiCSP, "X-Frame-Options": "DENY"}
			page := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
				"Cross-Origin-Opener-Policy": "same-origin", "Content-Security-Policy": pageCSP}
			if https {
				api["Strict-Transport-Security"] = "max-age=31536000"
				page["Strict-Transport-Security"] = "max-age=31536000"
			}
			do := func(method, path string, form url.Values, auth func(*http.Request)) (*http.Response, map[string]any) {
				t.Helper()
				var body io.Reader
				if form != nil {
					body = strings.NewReader(form.Encode())
				}
				req, _ := http.NewRequest(method, base+path, body)
				if form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				if auth != nil {
					auth(req)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				var m map[string]any
				_ = json.Unmarshal(raw, &m)
				return resp, m
			}
			basic := func(id, secret string) func(*http.Request) {
				return func(r *http.Request) { r.SetBasicAuth(id, secret) }
			}
			bearer := func(tok string) func(*http.Request) {
				return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
			}
			check := func(what string, resp *http.Response, status int, want map[string]string, json bool) {
				t.Helper()
				if resp.StatusCode != status {
					t.Fatalf("%s: %d, want %d", what, resp.StatusCode, status)
				}
				h := resp.Header
				for _, name := range security {
					if got, ok := h[name]; ok != (want[name] != "") || ok && (len(got) != 1 || got[0] != want[name]) {
						t.Errorf("%s: %s %q, want %q", what, name, got, want[name])
					}
				}
				if json && !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
					t.Errorf("%s: Content-Type %q", what, h.Get("Content-Type"))
				}
				if h.Get("X-Request-Id") == "" {
					t.Errorf("%s: no X-Request-Id", what)
				}
				entries := maps.Clone(h)
				delete(entries, "Date")
				delete(entries, "Content-Length")
				if status < 300 && want["Referrer-Policy"] == "" && len(entries) > 8 {
					t.Errorf("%s: %d header entries besides Date and Content-Length, want 8 at most: %v", what, len(entries), h)
				}
			}

			resp, tok := do(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"orders.read"}},
				basic("service", serviceSecret))
			check("token (client_credentials)", resp, 200, api, true)
			access, _ := tok["access_token"].(string)
			resp, member := do(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
				"password": {"alice-password"}, "scope": {"openid profile offline_access"}}, basic("legacy", legacySecret))
			check("token (password)", resp, 200, api, true)
			resp, _ = do(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"},
				"refresh_token": {fmt.Sprint(member["refresh_token"])}}, basic("legacy", legacySecret))
			check("token (refresh)", resp, 200, api, true)
			resp, _ = do(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"unknown"}}, basic("service", serviceSecret))
			check("token error", resp, 400, api, true)
			resp, _ = do(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, nil)
			check("token without client", resp, 401, api, true)
			resp, _ = do(http.MethodGet, "/oauth/token", nil, nil)
			check("token GET", resp, 405, api, true)
			resp, _ = do(http.MethodGet, "/userinfo", nil, bearer(fmt.Sprint(member["access_token"])))
			check("userinfo", resp, 200, api, true)
			resp, _ = do(http.MethodGet, "/userinfo", nil, bearer("not-a-token"))
			check("userinfo refused", resp, 401, api, true)
			resp, _ = do(http.MethodPost, "/oauth/introspect", url.Values{"token": {access}}, basic("orders-api", apiSecret))
			check("introspect", resp, 200, api, true)
			resp, _ = do(http.MethodPost, "/oauth/introspect", url.Values{"token": {access}}, basic("orders-api", "wrong"))
			check("introspect refused", resp, 401, api, true)
			resp, _ = do(http.MethodPost, "/revoke", url.Values{"token": {access}}, basic("service", serviceSecret))
			check("revoke", resp, 200, api, false)
			resp, _ = do(http.MethodPost, "/revoke", url.Values{"token": {access}}, basic("service", "wrong"))
			check("revoke refused", resp, 401, api, true)
			resp, _ = do(http.MethodPost, "/device_authorization", url.Values{"client_id": {"tv"}, "scope": {"openid"}}, nil)
			check("device authorization", resp, 200, api, true)
			resp, _ = do(http.MethodPost, "/device_authorization", url.Values{"client_id": {"nobody"}, "scope": {"openid"}}, nil)
			check("device authorization refused", resp, 401, api, true)
			resp, _ = do(http.MethodGet, "/authorize?"+url.Values{"client_id": {"web"}, "response_type": {"code"}, "scope": {"openid"},
				"redirect_uri": {e.rp + "/callback"}, "state": {"s"}, "code_challenge": {strings.Repeat("a", 42) + "A"},
				"code_challenge_method": {"S256"}}.Encode(), nil, nil)
			check("login page", resp, 200, page, false)
		})
	}
}
