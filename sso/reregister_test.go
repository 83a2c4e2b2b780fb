package sso_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// reregHarness is newHarnessOn with the registry kept, so that a test refreshes it after it
// changed the store's clients (what the bridge does on a change notification).
// addr is where it listens ("127.0.0.1:0": anywhere): a restart listens where the provider
// before it did, so that the issuer stays the same.
func reregHarness(t *testing.T, st *memstore.Store, addr string) (*harness, *sso.Registry) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener.Close()
	srv.Listener = ln
	issuer := "http://" + ln.Addr().String()
	_, keys, reg, hooks, cfg := harnessPartsOn(t, issuer, st)
	p, err := sso.New(cfg, st, keys, reg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	return &harness{t: t, p: p, store: st, hooks: hooks, srv: srv, issuer: issuer,
		http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, reg
}

// The dynamic clients of TestReregisteredClientTokens: a service with opaque access tokens, one
// with JWT access tokens (RFC 9068), and an app whose members sign in (code flow).
func reregClients(secret string) []sso.ClientConfig {
	out := []sso.ClientConfig{
		{ID: "dsvc", Name: "Service", SecretHash: sso.HashSecret(secret), GrantTypes: []string{sso.GrantClientCredentials},
			Scopes: []string{"api.read"}},
		{ID: "djwt", Name: "JWT service", SecretHash: sso.HashSecret(secret), GrantTypes: []string{sso.GrantClientCredentials},
			Scopes: []string{"api.read"}, AccessTokenFormat: "jwt"},
		{ID: "dweb", Name: "Web", SecretHash: sso.HashSecret(secret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{sso.GrantAuthorizationCode}, Scopes: []string{"openid", "profile"}, Trusted: true},
	}
	for i := range out {
		out[i].FillDefaults()
	}
	return out
}

// TestReregisteredClientTokens (review s11 Z10's leftover): a dynamic client removed and
// registered again under the same id is another app: the access tokens of the registration
// before (client_credentials ones have no family for the removal to revoke; opaque and JWT)
// are inactive at introspection, refused at userinfo and ignored by revocation, while the new
// registration's tokens work. An unchanged client's tokens survive a restart and an update of
// the client (an update is not a registration). Before, the old client_credentials tokens
// were active again for their whole lifetime.
func TestReregisteredClientTokens(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	const oldSecret, newSecret = "old-secret-0123456789abcdef0123456789", "new-secret-0123456789abcdef0123456789"
	register := func(secret string) {
		t.Helper()
		for _, c := range reregClients(secret) {
			sc, err := sso.EncodeClient(&c, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CreateClient(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}
	}
	register(oldSecret)
	h, reg := reregHarness(t, st, "127.0.0.1:0")
	restart := func() {
		t.Helper()
		h.srv.Close()
		h, reg = reregHarness(t, st, h.srv.Listener.Addr().String())
	}

	type token struct{ name, client, value string }
	issue := func(h *harness, secret string) []token {
		t.Helper()
		var out []token
		for _, id := range []string{"dsvc", "djwt"} {
			status, body, _ := h.token(url.Values{"grant_type": {"client_credentials"}}, id+":"+secret)
			if status != 200 {
				t.Fatalf("client_credentials for %s: %d %v", id, status, body)
			}
			out = append(out, token{id + " client_credentials", id, body["access_token"].(string)})
		}
		verifier, challenge := pkce()
		cfg := h.oauth2Config("dweb", secret, webRedirect, "openid")
		u := h.signIn(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
			oauth2.SetAuthURLParam("code_challenge_method", "S256")), "alice")
		tok, err := cfg.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("dweb code exchange: %v", err)
		}
		return append(out, token{"dweb member", "dweb", tok.AccessToken})
	}
	active := func(h *harness, tk token, secret string) bool {
		t.Helper()
		resp := h.post(sso.PathIntrospect, url.Values{"token": {tk.value}}, tk.client+":"+secret)
		if resp.StatusCode != 200 {
			t.Fatalf("introspect %s: %d", tk.name, resp.StatusCode)
		}
		return decodeJSON(t, resp)["active"] == true
	}
	userinfo := func(h *harness, tk token) int {
		t.Helper()
		resp := h.get(sso.PathUserinfo, "Authorization", "Bearer "+tk.value)
		resp.Body.Close()
		return resp.StatusCode
	}
	expect := func(h *harness, l []token, secret string, want bool, when string) {
		t.Helper()
		for _, tk := range l {
			if got := active(h, tk, secret); got != want {
				t.Fatalf("%s: introspection of the %s token: active %v, want %v", when, tk.name, got, want)
			}
		}
		if code := userinfo(h, l[2]); (code == http.StatusOK) != want {
			t.Fatalf("%s: userinfo with the member token: %d", when, code)
		}
	}

	old := issue(h, oldSecret)
	expect(h, old, oldSecret, true, "issued")

	// An update (new name, same registration) and a restart (a new provider and registry on
	// the same store) keep them.
	for _, c := range reregClients(oldSecret) {
		c.Name += " (renamed)"
		sc, err := sso.EncodeClient(&c, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateClient(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	expect(h, old, oldSecret, true, "after an update")
	restart()
	expect(h, old, oldSecret, true, "after a restart")

	// Removed and registered again under the same ids: the old tokens are of another app.
	for _, c := range reregClients(oldSecret) {
		if err := st.DeleteClient(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	register(newSecret)
	if err := reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	expect(h, old, newSecret, false, "after a re-registration")
	restart()
	expect(h, old, newSecret, false, "after a re-registration and a restart")
	// Revocation of an old token by the new registration is answered 200 (RFC 7009 2.2) and
	// does nothing to the new tokens.
	fresh := issue(h, newSecret)
	for _, tk := range old {
		resp := h.post(sso.PathRevoke, url.Values{"token": {tk.value}}, tk.client+":"+newSecret)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("revoke the old %s token: %d", tk.name, resp.StatusCode)
		}
	}
	expect(h, fresh, newSecret, true, "the new registration's tokens")
}

// TestReregisteredClientCodes (review s18 X18-1): a dynamic client removed and registered again
// under the same id is another app, which must not redeem what the removed one was given and
// had not redeemed yet: a member's authorization code and a device authorization. Both are
// refused invalid_grant (RFC 6749 4.1.3, 5.2: issued to another client) whatever the store
// keeps of them, while the new registration's own code and device flow work.
func TestReregisteredClientCodes(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	const oldSecret, newSecret = "old-secret-0123456789abcdef0123456789", "new-secret-0123456789abcdef0123456789"
	clients := func(secret string) []sso.ClientConfig {
		out := []sso.ClientConfig{
			{ID: "dweb", Name: "Web", SecretHash: sso.HashSecret(secret), RedirectURIs: []string{webRedirect},
				GrantTypes: []string{sso.GrantAuthorizationCode}, Scopes: []string{"openid", "profile"}, Trusted: true},
			{ID: "dtv", Name: "TV", SecretHash: sso.HashSecret(secret), GrantTypes: []string{sso.GrantDeviceCode},
				Scopes: []string{"openid", "profile"}, Trusted: true},
		}
		for i := range out {
			out[i].FillDefaults()
		}
		return out
	}
	register := func(secret string) {
		t.Helper()
		for _, c := range clients(secret) {
			sc, err := sso.EncodeClient(&c, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CreateClient(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}
	}
	register(oldSecret)
	h, reg := reregHarness(t, st, "127.0.0.1:0")
	code := func(secret string) (string, string) {
		t.Helper()
		verifier, challenge := pkce()
		cfg := h.oauth2Config("dweb", secret, webRedirect, "openid")
		u := h.signIn(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
			oauth2.SetAuthURLParam("code_challenge_method", "S256")), "alice")
		return u.Query().Get("code"), verifier
	}
	exchange := func(code, verifier, secret string) (int, map[string]any) {
		status, body, _ := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect},
			"code_verifier": {verifier}}, "dweb:"+secret)
		return status, body
	}
	device := func(secret string) string {
		t.Helper()
		resp := h.post(sso.PathDeviceAuthzEP, url.Values{"scope": {"openid"}}, "dtv:"+secret)
		body := decodeJSON(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("device authorization: %d %v", resp.StatusCode, body)
		}
		return body["device_code"].(string)
	}
	poll := func(dc, secret string) (int, map[string]any) {
		status, body, _ := h.token(url.Values{"grant_type": {sso.GrantDeviceCode}, "device_code": {dc}}, "dtv:"+secret)
		return status, body
	}

	oldCode, oldVerifier := code(oldSecret)
	oldDevice := device(oldSecret)
	for _, c := range clients(oldSecret) {
		if err := st.DeleteClient(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	register(newSecret)
	if err := reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if status, body := exchange(oldCode, oldVerifier, newSecret); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("the removed app's code at the new registration: %d %v, want invalid_grant", status, body)
	}
	if status, body := poll(oldDevice, newSecret); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("the removed app's device code at the new registration: %d %v, want invalid_grant", status, body)
	}
	newCode, newVerifier := code(newSecret)
	if status, body := exchange(newCode, newVerifier, newSecret); status != 200 {
		t.Fatalf("the new registration's own code: %d %v", status, body)
	}
	if status, body := poll(device(newSecret), newSecret); status != 400 || body["error"] != "authorization_pending" {
		t.Fatalf("the new registration's own device code: %d %v, want authorization_pending", status, body)
	}
}
