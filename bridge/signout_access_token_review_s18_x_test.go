package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestSignOutEverywhereEndsSessionTokens (review s18 X18-5): README "Security properties"
// says access tokens "are checked against their family, so revoking a grant, signing out
// everywhere or deactivating a member ends them at once", and the account page's button
// "Sign out everywhere" is the bridge's sign-out (/logout). A grant made in that session
// without offline_access (no refresh token: it lives as long as the session, OIDC Core 11)
// keeps its access token active after the sign-out: userinfo answers and introspection says
// active for the rest of its lifetime (15 minutes by default). A resource server that
// introspects, or an app that calls userinfo, keeps acting for a member who signed out
// "everywhere".
func TestSignOutEverywhereEndsSessionTokens(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, "openid", "profile")
	b := e.browser()
	tok, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" {
		t.Fatal("a refresh token without offline_access")
	}
	acct := b.Get(e.issuer + "/account")
	if !strings.Contains(acct.Body, `href="/logout" id="signout-browser">Sign out of this browser`) {
		t.Fatalf("no 'Sign out of this browser' (session 22's name of 'Sign out everywhere') on the account page: %.300s", acct.Body)
	}
	out := b.Get(e.issuer + "/logout")
	if f := out.Hidden(); f.Get("csrf") != "" {
		b.Post(e.issuer+"/logout", f)
	}
	if b.Get(e.issuer+"/account").Status == http.StatusOK {
		t.Fatal("still signed in after 'Sign out everywhere'")
	}
	resp, body := postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": tok.AccessToken}, "web", webSecret)
	if resp.StatusCode != http.StatusOK || body["active"] != false {
		t.Errorf("introspection of the signed-out session's access token: %d %v, want active false", resp.StatusCode, body)
	}
	req, _ := http.NewRequestWithContext(e.ctx(), http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	ui, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ui.Body.Close()
	if ui.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with the signed-out session's access token: %d, want 401", ui.StatusCode)
	}
}
