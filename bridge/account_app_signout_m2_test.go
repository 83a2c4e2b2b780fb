package bridge_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestAccountSignOutOfAppEndsItsAccessToken (brief M2-1): after "Sign out of <app>" on the
// account page, the access token of the app's grant made in this session without
// offline_access is inactive at introspection and 401 at userinfo, while the member's other app
// in the same session keeps its access token.
func TestAccountSignOutOfAppEndsItsAccessToken(t *testing.T) {
	e := grantEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, "openid", "profile")
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader, "openid", "profile")
	b := e.browser()
	webTok, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	if webTok.RefreshToken != "" {
		t.Fatal("a refresh token without offline_access")
	}
	otherTok, err := other.Exchange(e.ctx(), e.signIn(b, other.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	acc := b.Get(e.issuer + "/account")
	b.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"web"}, "action": {"signout"}})

	userinfo := func(tok string) int {
		req, _ := http.NewRequestWithContext(e.ctx(), http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	resp, body := postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": webTok.AccessToken}, "web", webSecret)
	if resp.StatusCode != http.StatusOK || body["active"] != false {
		t.Errorf("introspection of the signed-out app's access token: %d %v, want active false", resp.StatusCode, body)
	}
	if got := userinfo(webTok.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("userinfo with the signed-out app's access token: %d, want 401", got)
	}
	resp, body = postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": otherTok.AccessToken}, "other", otherSecret)
	if resp.StatusCode != http.StatusOK || body["active"] != true {
		t.Errorf("introspection of the other app's access token: %d %v, want active true", resp.StatusCode, body)
	}
	if got := userinfo(otherTok.AccessToken); got != http.StatusOK {
		t.Errorf("userinfo with the other app's access token: %d, want 200", got)
	}
}
