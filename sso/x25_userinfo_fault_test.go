package sso_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// Review s25 X-9 (Medium): /userinfo answers every failure op reports as 401 invalid_token
// "the access token is invalid, expired or revoked" (serveUserinfo), its server errors
// included: the hooks' claims failing (in the bridge the AMS unreachable) or the store failing
// to read the token's family. RFC 6750 3.1 keeps invalid_token for a token that is expired,
// revoked, malformed or invalid; a client told so drops the access token and refreshes or
// signs the member in again (and with X-1 the refresh is refused too). SetUserinfoFromToken
// itself says such errors are "a server_error". Fails on main: 401 invalid_token in both cases.
// (Uses x25_grant_after_write_test.go's harness.)
func TestX25UserinfoServerFaultIsNotInvalidToken(t *testing.T) {
	amsDown := fmt.Errorf("claims: %w", errors.New("legacy: membership system unavailable: dial tcp: connection refused"))
	diskIO := errors.New("sqlite: family: disk I/O error")
	for _, tc := range []struct {
		name string
		set  func(*x25Hooks, *x25FamilyStoreErr, error)
		err  error
	}{
		{"claims fail", func(hk *x25Hooks, _ *x25FamilyStoreErr, e error) { hk.claimsErr.Store(x25Err(e)) }, amsDown},
		{"family read fails", func(_ *x25Hooks, fe *x25FamilyStoreErr, e error) { fe.Store(x25Err(e)) }, diskIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, hooks, famErr := newX25Harness(t)
			tok := h.tokens("alice", "openid", "profile")
			tc.set(hooks, famErr, tc.err)
			resp := h.get("/userinfo", "Authorization", "Bearer "+tok.AccessToken)
			body := decodeJSON(t, resp)
			hooks.claimsErr.Store(nil)
			famErr.Store(nil)
			if resp.StatusCode < 500 || body["error"] == "invalid_token" {
				t.Errorf("userinfo while the server cannot answer: %d %v (WWW-Authenticate %q), want a 5xx, never invalid_token",
					resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
			}
			if resp := h.get("/userinfo", "Authorization", "Bearer "+tok.AccessToken); resp.StatusCode != http.StatusOK {
				t.Errorf("the same token once the fault is gone: %d", resp.StatusCode)
			}
		})
	}
}

func x25Err(e error) *error { return &e }
