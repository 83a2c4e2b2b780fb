package bridge_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestAdminRevokeByClientReachesEveryGrant (review s16 X): POST /admin/tokens/revoke (and
// `ssobridge tokens revoke`, the console's form) with a client and no member is an operator's
// answer to a compromised app: every token the app holds must stop working. A sign-in without
// offline_access has no refresh token, but its access token has a family so that revocations
// reach it (sso storage.createAccessToken: "A user's token always has a family, so that
// revocations reach it"). Revoking by login and client reaches it (store RevokeGrants); by client
// alone the service walks ListRefreshTokens, which lists only families with a refresh token,
// and the access token keeps answering at /userinfo (and introspects active) until it expires.
func TestAdminRevokeByClientReachesEveryGrant(t *testing.T) {
	for _, filter := range []map[string]string{{"client": "web"}, {"login": "alice", "client": "web"}} {
		t.Run(filter["login"]+"/"+filter["client"], func(t *testing.T) {
			e, a := adminEnv(t)
			web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, "openid", "profile")
			tok, err := web.Exchange(e.ctx(), e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password"))
			if err != nil {
				t.Fatal(err)
			}
			userinfo := func() int {
				req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if s := userinfo(); s != http.StatusOK {
				t.Fatalf("userinfo before the revocation: %d", s)
			}
			a.ok(http.MethodPost, "/admin/tokens/revoke", filter)
			if s := userinfo(); s == http.StatusOK {
				t.Fatalf("the app's access token still answers at /userinfo after POST /admin/tokens/revoke %v", filter)
			}
		})
	}
}
