package bridge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

func TestAdminClaimsPreview(t *testing.T) {
	e, admin := adminEnv(t)
	m := admin.ok(http.MethodGet, "/admin/claims-preview?client=web&login=alice&scope=openid&scope=email", nil)
	idt, _ := m["id_token"].(map[string]any)
	if idt["email"] != "alice@example.org" || idt["name"] != nil || m["sign_in"] != "ok" {
		t.Fatalf("preview: %v", m)
	}
	if status, _, _ := admin.do(http.MethodGet, "/admin/claims-preview?client=web&login=alice", "wrong-token", nil); status != http.StatusUnauthorized {
		t.Fatalf("preview without the admin token: %d", status)
	}
	// The HTML page for a browser.
	req, _ := http.NewRequest(http.MethodGet, admin.url+"/admin/claims-preview?client=web&login=locked&scope=openid+profile", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "What web receives for locked") || !strings.Contains(string(body), "locked_out") {
		t.Fatalf("preview page: %s", body)
	}
	// Ending a session through the admin API tells the session's apps (back-channel logout is
	// queued through the shadow service, not just a store update).
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := bridgetest.NewBrowser(t, e.issuer)
	e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password")
	admin.ok(http.MethodPost, "/admin/sessions/revoke", map[string]any{"login": "alice"})
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("session survived the admin revocation")
	}
}

// TestDeletedClientTokensStop: after a dynamic client is removed, even its access tokens
// without a refresh token stop working at userinfo. The admin API's answer comes after the
// change notification refreshed the server's client registry (admin.Service.Changes), so the
// new client signs in, and the removed one's token is refused, at once: no wait for the lone
// server's 2 s version check on lookup, which would hide a change the registry was not told of.
func TestDeletedClientTokensStop(t *testing.T) {
	e, admin := adminEnv(t)
	created := admin.ok(http.MethodPost, "/admin/clients", map[string]any{"id": "temp", "name": "Temp", "trusted": true,
		"redirect_uris": []string{"http://127.0.0.1:9/app/temp"}})
	secret, _ := created["client_secret"].(string)
	if secret == "" {
		t.Fatalf("create: %v", created)
	}
	cfg, _ := e.oauth("temp", secret, "http://127.0.0.1:9/app/temp", oauth2.AuthStyleInHeader, "openid", "profile")
	tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	userinfo := func() int {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, _ := doJSON(t, req)
		return resp.StatusCode
	}
	if s := userinfo(); s != http.StatusOK {
		t.Fatalf("userinfo before removal: %d", s)
	}
	if status, _, _ := admin.do(http.MethodDelete, "/admin/clients/temp", adminToken, nil); status >= 300 {
		t.Fatalf("delete: %d", status)
	}
	if s := userinfo(); s != http.StatusUnauthorized {
		t.Fatalf("userinfo after the client was removed: %d", s)
	}
}
