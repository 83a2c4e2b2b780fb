package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/sso"
)

// TestUnusableClientAuditCoalesced (brief s21 Q2 item 1): a stored client that is not served
// (an id of a member's subject's shape, c47103a) is refused at /authorize without any
// authentication, and at the token endpoint; each refusal was audited, so anyone could append
// one audit row per request. Now its rows are one per client, address and minute (and at most
// the anonymous-write budget per client, audit.TestCoalesced): repeated requests from one
// address write one row, another address its own.
func TestUnusableClientAuditCoalesced(t *testing.T) {
	const hexID = "0123456789abcdef0123456789abcdef01234567"
	const secret = "unusable-secret-0123456789abcdef0123456"
	e := newEnv(t, func(c *bridge.Config) { c.TrustedProxies = []string{"127.0.0.0/8", "::1/128"} })
	sc, err := sso.EncodeClient(&sso.ClientConfig{ID: hexID, Name: "Old", SecretHash: sso.HashSecret(secret),
		RedirectURIs: []string{e.rp + "/old"}, Scopes: []string{"openid"},
		GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantClientCredentials}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateClient(t.Context(), sc); err != nil {
		t.Fatal(err)
	}
	authorize := url.Values{"client_id": {hexID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {e.rp + "/old"}, "state": {"s"}, "code_challenge": {strings.Repeat("a", 43)},
		"code_challenge_method": {"S256"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(from string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/authorize?"+authorize.Encode(), nil)
		if from != "" {
			req.Header.Set("X-Forwarded-For", from)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	token := func(from string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		req.SetBasicAuth(hexID, secret)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	rows := func(ip string) int {
		return countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'client.unusable' AND client_id = ? AND ip = ?", hexID, ip)
	}
	// The server reads a client stored by another process at its next check.
	for start := time.Now(); rows("192.0.2.1") == 0; time.Sleep(50 * time.Millisecond) {
		if resp := get("192.0.2.1"); resp.StatusCode < 400 {
			t.Fatalf("/authorize of the unusable client: %d", resp.StatusCode)
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("the stored client was never refused as unusable")
		}
	}
	for range 5 {
		get("192.0.2.1")
		if resp := token("192.0.2.1"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("client_credentials of the unusable client: %d", resp.StatusCode)
		}
	}
	if n := rows("192.0.2.1"); n != 1 {
		t.Fatalf("%d client.unusable rows for 11 refusals from one address, want 1", n)
	}
	token("198.51.100.7")
	get("198.51.100.7")
	if n := rows("198.51.100.7"); n != 1 {
		t.Fatalf("%d client.unusable rows from another address, want 1", n)
	}
}
