package sso_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestRefreshTokenOfAnotherClient (review s25 X-6; RFC 6749 6: the AS MUST "verify that the
// refresh token was issued to the authenticated client"; RFC 9700 4.14.2): a refresh token
// presented by a client that does not own its family is refused invalid_grant "issued to another
// client" before the member hooks run: no token.refresh_denied row under the owner's client, no
// revocation of a current token. A rotated token of the family presented by another client still
// revokes the family (a breach: the token left its client), and the token.refresh_reuse row,
// under the family's client, names the presenting client. Before, the member hooks ran first
// (a denied member: token.refresh_denied audited for web, "the member may no longer use this
// app" told to tv), and the reuse row did not say who presented the token.
func TestRefreshTokenOfAnotherClient(t *testing.T) {
	h := newHarness(t)
	refresh := func(basic, rt string) (int, map[string]any) {
		t.Helper()
		status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic)
		return status, body
	}
	audit := func() []string {
		h.hooks.mu.Lock()
		defer h.hooks.mu.Unlock()
		return slices.Clone(h.hooks.audit)
	}
	tok := h.tokens("dave", "openid", "offline_access")
	status, body := refresh("web:"+webSecret, tok.RefreshToken)
	if status != 200 {
		t.Fatalf("web's refresh: %d %v", status, body)
	}
	rotated, current := tok.RefreshToken, body["refresh_token"].(string)

	// The current token, by another client, while the member is refused: the owner's check is
	// never asked.
	h.hooks.deny("dave")
	before := len(audit())
	status, body = refresh("tv:"+webSecret, current)
	if status != 400 || body["error"] != "invalid_grant" || body["error_description"] != "the refresh token was issued to another client" {
		t.Errorf("web's current token by tv: %d %v, want invalid_grant issued to another client", status, body)
	}
	if rows := audit()[before:]; len(rows) != 0 {
		t.Errorf("web's current token by tv wrote %v, want nothing (the member hooks do not run for a token the caller does not own)", rows)
	}
	h.hooks.mu.Lock()
	delete(h.hooks.denied, "dave")
	h.hooks.mu.Unlock()
	// ... and revoked nothing: web refreshes with it.
	status, body = refresh("web:"+webSecret, current)
	if status != 200 {
		t.Fatalf("web's refresh after tv presented its current token: %d %v", status, body)
	}
	current = body["refresh_token"].(string)

	// A rotated token, by another client: refused, the family revoked, the row names both.
	before = len(audit())
	status, body = refresh("tv:"+webSecret, rotated)
	if status != 400 || body["error"] != "invalid_grant" || body["error_description"] != "the refresh token was issued to another client" {
		t.Errorf("web's rotated token by tv: %d %v, want invalid_grant issued to another client", status, body)
	}
	rows := audit()[before:]
	if len(rows) != 1 || !strings.HasPrefix(rows[0], "token.refresh_reuse sub=dave client=web ") || !strings.Contains(rows[0], "(tv)") {
		t.Errorf("web's rotated token by tv wrote %v, want one token.refresh_reuse row for web naming tv", rows)
	}
	if status, body := refresh("web:"+webSecret, current); status != 400 || body["error_description"] != "refresh token revoked" {
		t.Errorf("web's current token after its rotated one was presented by tv: %d %v, want the family revoked", status, body)
	}
}
