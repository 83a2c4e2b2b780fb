package sso_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// Review s25 Y-1 (Medium): introspection (RFC 7662) the server could not decide was answered as
// a verdict on the token: the member's claims failing (the AMS unreachable) gave 200
// {"active":true,...} without the claims (op marshals the half-filled response), the store
// failing to read the token's family gave {"active":false} (the resource server drops a live
// token). Both are server faults now: 503 temporarily_unavailable with Retry-After when the
// store is unavailable, else 500 server_error, with neither "active" nor any of the token's
// fields in the body. A member the hooks no longer know is the token's own end: active false.
// The same token introspects active, with its claims, once the fault is gone.
// (Uses x25_grant_after_write_test.go's harness.)
func TestY25IntrospectionServerFaultIsNoVerdict(t *testing.T) {
	amsDown := fmt.Errorf("claims: %w", errors.New("legacy: membership system unavailable: dial tcp: connection refused"))
	diskIO := errors.New("sqlite: family: disk I/O error")
	storeDown := fmt.Errorf("postgres: family: %w: connection refused", sso.ErrUnavailable)
	memberGone := fmt.Errorf("claims: %w: member 42", sso.ErrNotFound)
	for _, tc := range []struct {
		name     string
		set      func(*x25Hooks, *x25FamilyStoreErr)
		status   int
		errCode  string // "" for a 200 answer
		inactive bool   // the 200 answer is active:false
	}{
		{"claims fail (AMS down)", func(hk *x25Hooks, _ *x25FamilyStoreErr) { hk.claimsErr.Store(x25Err(amsDown)) },
			http.StatusInternalServerError, "server_error", false},
		{"family read fails", func(_ *x25Hooks, fe *x25FamilyStoreErr) { fe.Store(x25Err(diskIO)) },
			http.StatusInternalServerError, "server_error", false},
		{"store unavailable", func(_ *x25Hooks, fe *x25FamilyStoreErr) { fe.Store(x25Err(storeDown)) },
			http.StatusServiceUnavailable, "temporarily_unavailable", false},
		{"member gone", func(hk *x25Hooks, _ *x25FamilyStoreErr) { hk.claimsErr.Store(x25Err(memberGone)) },
			http.StatusOK, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, hooks, famErr := newX25Harness(t)
			tok := h.tokens("alice", "openid", "profile")
			introspect := func() (*http.Response, map[string]any) {
				resp := h.post(sso.PathIntrospect, url.Values{"token": {tok.AccessToken}}, "web:"+webSecret)
				return resp, decodeJSON(t, resp)
			}
			tc.set(hooks, famErr)
			resp, body := introspect()
			hooks.claimsErr.Store(nil)
			famErr.Store(nil)
			if resp.StatusCode != tc.status || body["error"] != nilIfEmpty(tc.errCode) {
				t.Errorf("introspection: %d %v, want %d %q", resp.StatusCode, body, tc.status, tc.errCode)
			}
			if tc.errCode != "" {
				for _, k := range []string{"active", "sub", "client_id", "scope"} {
					if _, ok := body[k]; ok {
						t.Errorf("the fault's answer says %q about the token: %v", k, body)
					}
				}
				if tc.status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			}
			if tc.inactive && (body["active"] != false || len(body) != 1) {
				t.Errorf("a member gone: %v, want exactly {\"active\":false}", body)
			}
			if resp, body := introspect(); resp.StatusCode != http.StatusOK || body["active"] != true || body["sub"] != "alice" {
				t.Errorf("the same token once the fault is gone: %d %v", resp.StatusCode, body)
			}
		})
	}
}

// nilIfEmpty is s as a decoded JSON value: nil (absent) for "".
func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
