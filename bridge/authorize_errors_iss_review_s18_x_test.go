package bridge_test

import (
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestBridgeAuthorizationErrorsCarryIss (review s18): RFC 9207 section 2 wants iss in every
// authorization response, errors included, and RFC 6749 4.1.2.1 the request's state. op's own
// refusals pass through servePage's issWriter; the refusals the bridge's login flow makes
// itself (redirectError: login_required without a session or for another member than the
// id_token_hint names, consent_required with prompt=none, access_denied when the member
// denies) go through Provider.ErrorRedirect. Each one here, checked as a strict app checks it.
func TestBridgeAuthorizationErrorsCarryIss(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)
	check := func(t *testing.T, q url.Values, wantErr, state string) {
		t.Helper()
		if q.Get("code") != "" || q.Get("error") != wantErr || q.Get("state") != state || q.Get("iss") != e.issuer {
			t.Fatalf("error response %v: want error %s, state %s and iss %s", q, wantErr, state, e.issuer)
		}
	}
	t.Run("login_required without a session", func(t *testing.T) {
		check(t, e.browser().Get(web.AuthCodeURL("n1", oauth2.SetAuthURLParam("prompt", "none"))).Redirected(t), "login_required", "n1")
	})
	t.Run("consent_required with prompt=none", func(t *testing.T) {
		b := signedInBrowser(t, e, "alice", "alice-password")
		check(t, b.Get(third.AuthCodeURL("n2", oauth2.SetAuthURLParam("prompt", "none"))).Redirected(t), "consent_required", "n2")
	})
	t.Run("access_denied when the member denies", func(t *testing.T) {
		b := signedInBrowser(t, e, "alice", "alice-password")
		p := b.Get(third.AuthCodeURL("n3"))
		f := p.Hidden()
		if f.Get("id") == "" {
			t.Fatalf("no consent page: %s %d %.300s", p.URL, p.Status, p.Body)
		}
		d := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "decision": {"deny"}})
		check(t, d.Redirected(t), "access_denied", "n3")
	})
	t.Run("prompt=none and select_account", func(t *testing.T) {
		b := signedInBrowser(t, e, "alice", "alice-password")
		check(t, b.Get(web.AuthCodeURL("n4", oauth2.SetAuthURLParam("prompt", "none select_account"))).Redirected(t), "invalid_request", "n4")
	})
}
