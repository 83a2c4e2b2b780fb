package sso_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// Review s25 X-4 (Low): the refresh grant does not check that the family was issued to the
// client's current registration. The code grant (issuedBeforeRegistration on the request),
// the device grant (on the device authorization) and every access token (ofCurrentRegistration)
// refuse what an earlier registration of the same client id got, "another app"; a family
// relies on the removal's revocation alone. A family the removal does not reach (a code
// exchanged by a replica, or a request in flight, that still had the client while the removal
// committed: its IssueTokens inserts the family after revokeGrantsCounted ran, and the second
// pass sweeps requests, not families) is refreshed by the app registered again under the id,
// and the access token it gets is of the new registration (created after it). Here the
// family is made by a provider whose registry has not yet heard of the removal. Fails on
// main: 200 with a new access token.
func TestX25RefreshOfAnEarlierRegistration(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	spa := sso.ClientConfig{ID: "dspa", Name: "SPA", Public: true, RedirectURIs: []string{"https://spa.example/cb"},
		GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken}, Scopes: []string{"openid", "offline_access"}}
	spa.FillDefaults()
	register := func() {
		t.Helper()
		sc, err := sso.EncodeClient(&spa, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateClient(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	register()
	h, _ := reregHarness(t, st, "127.0.0.1:0")
	// A registry that looks at the store only when told (Refresh): the removal below is not
	// seen until then, as on a replica the change notification has not reached yet.
	stale, err := sso.NewRegistry(ctx, st, testClients(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, keys, _, hooks, cfg := harnessPartsOn(t, h.issuer, st)
	p, err := sso.New(cfg, st, keys, stale, hooks)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Config.Handler = p
	h.p, h.hooks = p, hooks

	// The app is removed (its families revoked, its requests deleted)...
	if err := st.DeleteClient(ctx, "dspa"); err != nil {
		t.Fatal(err)
	}
	// ...while this replica still has it: a member already signed in gets a code and the app
	// exchanges it, after the removal's revocation.
	verifier, challenge := pkce()
	oc := h.oauth2Config("dspa", "", "https://spa.example/cb", "openid", "offline_access")
	u := h.signIn(oc.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")), "alice")
	status, body, _ := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {"https://spa.example/cb"}, "code_verifier": {verifier}, "client_id": {"dspa"}}, "")
	rt, _ := body["refresh_token"].(string)
	if status != http.StatusOK || rt == "" {
		t.Fatalf("exchange on the replica that still had the client: %d %v", status, body)
	}
	// Another app is registered under the id (the old app's removal was a while ago).
	time.Sleep(2 * time.Millisecond) // RegisteredAt after the family's creation, whatever the clock's grain
	register()
	if err := stale.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	status, body, _ = h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"dspa"}}, "")
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("the old app's refresh token at the app registered again under its id: %d %v, want 400 invalid_grant", status, body)
	}
}
