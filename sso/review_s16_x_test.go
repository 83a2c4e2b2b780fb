package sso_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// TestRefreshRevocationStoreUnavailable (review s16 X; RFC 7009 2.2 and 2.2.1): a refresh
// token's revocation the store cannot check is answered as the server's error, as an access
// token's is (TestRevocationStoreUnavailable), not 200: 200 tells the client the grant is dead
// (an app's sign-out drops its copy) while the refresh token still works. With or without the
// hint. Once the store is back the same request revokes it, and the token is refused.
func TestRefreshRevocationStoreUnavailable(t *testing.T) {
	for _, hint := range []string{"refresh_token", ""} {
		t.Run("hint="+hint, func(t *testing.T) {
			var down atomic.Bool
			h := newHarnessWith(t, func(st *memstore.Store) sso.Store { return downStore{Store: st, down: &down} })
			tok := h.tokens("alice", "openid", "offline_access")
			revoke := url.Values{"token": {tok.RefreshToken}}
			if hint != "" {
				revoke.Set("token_type_hint", hint)
			}
			down.Store(true)
			resp := h.post(sso.PathRevoke, revoke, "web:"+webSecret)
			var answer struct{ Error string }
			_ = json.NewDecoder(resp.Body).Decode(&answer)
			resp.Body.Close()
			down.Store(false)
			if resp.StatusCode != http.StatusOK && (resp.StatusCode < 500 || answer.Error != "server_error") {
				t.Fatalf("refresh token revocation while the store is unavailable: %d %q, want a server error (RFC 7009 2.2.1)", resp.StatusCode, answer.Error)
			}
			if resp.StatusCode == http.StatusOK {
				status, _, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web:"+webSecret)
				t.Fatalf("refresh token revocation while the store is unavailable answered 200 (revoked), and the token still works: refresh %d", status)
			}
			if resp := h.post(sso.PathRevoke, revoke, "web:"+webSecret); resp.StatusCode != http.StatusOK {
				t.Fatalf("revocation once the store is back: %d", resp.StatusCode)
			}
			if status, _, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web:"+webSecret); status != http.StatusBadRequest {
				t.Fatalf("refresh after the revocation: %d", status)
			}
		})
	}
}
