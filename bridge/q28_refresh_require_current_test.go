package bridge_test

import (
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
)

// Session 28 (Q), "require_current at refresh reads through the profile cache" (left since
// session 26): what a refresh of an app whose provisioning target says require_current reads,
// for a member whose membership the AMS records as lapsed between two refreshes, with the
// profile cache in front of the directory as production runs it.
//
// Decided with the design (design.md, main path 3: "re-check the member (profile cache, short
// TTL; lapsed or locked -> invalid_grant)"; invariant "nothing the AMS says is trusted beyond
// its TTL"): the refresh reads the member through the cache, as every re-check of a grant does,
// and is not made to read the AMS afresh. RFC 6749 6 and OIDC Core 12 ask the server to
// validate the refresh token and the grant, not to read the resource owner's record at each
// refresh; the access tokens already issued live out their lifetime (minutes, longer than
// cache_ttl's 2 minutes) whatever the refresh reads; the change poll reads the member past the
// cache and revokes a require_current app's grants on a lapse; and a read of the AMS per
// refresh would put the AMS on the refresh path's every request and fail refreshes whenever it
// blinks. So a lapse the AMS records counts from the first refresh after the cache has the
// member again (its TTL, or the poller's next pass), and the README says so; a membership that
// runs out by the calendar counts at once (the cached paid-through date is compared with now).
// This test pins that: the refresh right after the lapse is answered from the cached member,
// and the first after the cache's entry is gone, or after the poll read the member, is
// invalid_grant.
func TestQ28RequireCurrentRefreshAfterALapse(t *testing.T) {
	for _, tc := range []struct {
		name string
		// seen makes the bridge see the AMS's change.
		seen func(t *testing.T, e *env)
	}{
		{"the cached profile expires", func(t *testing.T, e *env) {
			// What the cache's TTL running out does: the next read goes to the AMS.
			e.bridge.FlushMemberCache()
		}},
		{"the change poll reads the member", func(t *testing.T, e *env) {
			if _, err := e.bridge.Shadow().Poll(e.ctx()); err != nil {
				t.Fatalf("poll: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvDeps(t, false, nil, envDeps{profileCache: true}, func(c *bridge.Config) {
				c.Provisioning = map[string]provisioning.Target{"web": {RequireCurrent: true, AllowInternal: true,
					Settings: &webhook.Config{URL: "http://127.0.0.1:9/hook", Secret: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}}}
			})
			web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			tok, err := web.Exchange(e.ctx(), e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password"))
			if err != nil {
				t.Fatal(err)
			}
			rt := tok.RefreshToken
			refresh := func(what string, want int) {
				t.Helper()
				resp, body := postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "refresh_token", "refresh_token": rt},
					"web", webSecret)
				if resp.StatusCode != want {
					t.Fatalf("%s: refresh answered %d (error %v), want %d", what, resp.StatusCode, body["error"], want)
				}
				if want == http.StatusOK {
					rt, _ = body["refresh_token"].(string)
					return
				}
				if body["error"] != "invalid_grant" {
					t.Fatalf("%s: refresh refused with %v, want invalid_grant", what, body["error"])
				}
			}
			refresh("a current member", http.StatusOK)

			// The AMS records the lapse (paid through three months ago).
			e.dir.Update("alice", func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, -3, 0) })
			// Within the cached profile's TTL, before the poll: answered from the member as the
			// cache holds them (the bound the README states).
			refresh("lapsed in the AMS, the profile cached", http.StatusOK)

			tc.seen(t, e)
			refresh("lapsed, seen by the bridge", http.StatusBadRequest)
		})
	}
}
