package bridge_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// logoutRecorder is an app's backchannel_logout_uri: it keeps the claims of every logout token
// it receives (the signature is the outbox tests' business).
func logoutRecorder(t *testing.T) (*httptest.Server, chan map[string]any) {
	t.Helper()
	got := make(chan map[string]any, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		parts := strings.Split(r.PostForm.Get("logout_token"), ".")
		if r.URL.Path != "/bcl" || len(parts) != 3 {
			http.NotFound(w, r)
			return
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		if err == nil {
			err = json.Unmarshal(raw, &claims)
		}
		if err != nil {
			http.Error(w, "bad token", http.StatusBadRequest)
			return
		}
		got <- claims
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// drainLogouts delivers the queued logout events and returns the claims of the tokens the
// recorder got.
func drainLogouts(t *testing.T, e *env, got chan map[string]any, want int) []map[string]any {
	t.Helper()
	if n, err := e.bridge.Shadow().DeliverDue(e.ctx()); err != nil || n != want {
		t.Fatalf("delivered %d logout tokens, want %d: %v", n, want, err)
	}
	var out []map[string]any
	for range want {
		out = append(out, <-got)
	}
	return out
}

// TestAccountSignOutAllDevices (brief s21 H item 1): "Sign out of all devices" on the account
// page ends the member's sessions in every browser (not only this one) and revokes all their
// grants, refresh tokens included, with a back-channel logout token for every session's app,
// one audit event; it is a CSRF-protected POST behind a confirmation page, the result page lists
// what ended, and a replayed form does nothing more.
func TestAccountSignOutAllDevices(t *testing.T) {
	rec, got := logoutRecorder(t)
	e := grantEnv(t, func(c *bridge.Config) {
		c.Clients[1].BackchannelLogoutURI = rec.URL + "/bcl" // "other"
		c.Clients[1].AllowInternalTargets = true             // rec is on 127.0.0.1
	})
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	here, there := e.browser(), e.browser()
	var refresh []string
	for _, b := range []*bridgetest.Browser{here, there} {
		tok, err := other.Exchange(e.ctx(), e.signIn(b, other.AuthCodeURL("s"), "alice", "alice-password"))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("sign-in: %v (refresh token %t)", err, tok != nil && tok.RefreshToken != "")
		}
		refresh = append(refresh, tok.RefreshToken)
	}
	if n := sessionsOf(t, e, "alice"); n != 2 {
		t.Fatalf("alice has %d sessions, want 2", n)
	}

	acc := here.Get(e.issuer + "/account")
	if !strings.Contains(acc.Body, `href="/account/signout-all"`) {
		t.Fatalf("the account page does not offer it: %.400s", acc.Body)
	}
	// The link is a confirmation page: nothing ends on a GET.
	confirm := here.Get(e.issuer + "/account/signout-all")
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, `id="signout-all-confirm"`) {
		t.Fatalf("confirmation page: %d %.400s", confirm.Status, confirm.Body)
	}
	if n := sessionsOf(t, e, "alice"); n != 2 {
		t.Fatalf("the confirmation page ended sessions: %d left", n)
	}
	// Without the CSRF token: refused, nothing ends.
	if p := here.Post(e.issuer+"/account/signout-all", url.Values{}); p.Status != http.StatusForbidden {
		t.Fatalf("POST without csrf: %d", p.Status)
	}
	if n := sessionsOf(t, e, "alice"); n != 2 {
		t.Fatalf("a POST without csrf ended sessions: %d left", n)
	}

	form := url.Values{"csrf": {confirm.Hidden().Get("csrf")}}
	done := here.Post(e.issuer+"/account/signout-all", form)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="signed-out-all"`) {
		t.Fatalf("result page: %d %.600s", done.Status, done.Body)
	}
	if c := strings.Count(done.Body, "Events App"); c < 1 || strings.Count(done.Body, "<li>") != 3 ||
		strings.Count(done.Body, "<strong>this browser</strong>") != 1 {
		t.Fatalf("the result page does not list two sessions (this browser once) and one app's tokens: %s", done.Body)
	}
	if n := sessionsOf(t, e, "alice"); n != 0 {
		t.Fatalf("%d sessions survived", n)
	}
	// Both browsers are signed out, the other one too.
	for i, b := range []*bridgetest.Browser{here, there} {
		if p := b.Get(e.issuer + "/account"); p.Status != http.StatusUnauthorized {
			t.Fatalf("browser %d still signed in: %d %.300s", i, p.Status, p.Body)
		}
	}
	// Both refresh tokens are revoked.
	for i, rt := range refresh {
		_, err := other.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: rt}).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("refresh token %d after signing out of all devices: %v", i, err)
		}
	}
	// The app got one logout token for each session, each naming its sid.
	sids := map[any]bool{}
	for _, c := range drainLogouts(t, e, got, 2) {
		if c["sid"] == nil || c["sub"] == nil {
			t.Fatalf("logout token without sid or sub: %v", c)
		}
		sids[c["sid"]] = true
	}
	if len(sids) != 2 {
		t.Fatalf("the logout tokens name %d sessions, want 2", len(sids))
	}
	rows, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "logout.all_devices"})
	if err != nil || len(rows) != 1 || !strings.HasPrefix(rows[0].Detail, "2 sessions ended") {
		t.Fatalf("audit logout.all_devices: %v %v", rows, err)
	}
	// The form replayed: no session, nothing more done or recorded.
	if p := here.Post(e.issuer+"/account/signout-all", form); p.Status != http.StatusUnauthorized {
		t.Fatalf("the replayed form: %d %s %.300s", p.Status, p.URL, p.Body)
	}
	if rows, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "logout.all_devices"}); len(rows) != 1 {
		t.Fatalf("the replayed form was audited again: %d rows", len(rows))
	}
}

// TestBrowserSignOutAllDevices (brief s21 H item 1): two browsers (two Chromium browser
// contexts) are signed in as alice at an app with a backchannel_logout_uri; one signs out of all
// devices from the account page; the other is signed out (the app asks it to sign in again) and
// the app got a logout token for each browser's session.
func TestBrowserSignOutAllDevices(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rec, got := logoutRecorder(t)
	rp, addClient := newRelyingParty(t)
	e := newEnv(t, addClient, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "browserapp" {
				c.Clients[i].BackchannelLogoutURI, c.Clients[i].AllowInternalTargets = rec.URL+"/bcl", true
			}
		}
	})
	rp.connect(e)
	one := chrome(t, 2*time.Minute)
	signIn := func(ctx context.Context) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(rp.srv.URL+"/start"), chromedp.WaitVisible(css("#login"))); err != nil {
			t.Fatalf("open the app: %v", err)
		}
		signInAt(t, ctx, "alice", "alice-password")
		shows(t, ctx, "#result")
	}
	signIn(one)
	two, cancel := chromedp.NewContext(one, chromedp.WithNewBrowserContext())
	defer cancel()
	signIn(two)
	if n := sessionsOf(t, e, "alice"); n != 2 {
		t.Fatalf("alice has %d sessions, want 2", n)
	}

	if err := chromedp.Do(one, chromedp.Navigate(e.issuer+"/account"), chromedp.Click(css("#signout-all")),
		chromedp.Click(css("#signout-all-confirm"))); err != nil {
		t.Fatalf("sign out of all devices: %v", err)
	}
	shows(t, one, "#signed-out-all")
	if n, err := chromedp.Run(one, chromedp.Evaluate[int](`document.querySelectorAll("#ended-sessions li").length`)); err != nil || n != 2 {
		t.Fatalf("the result page lists %d sessions: %v", n, err)
	}
	// The other browser is signed out: the app's next sign-in asks for the password.
	if err := chromedp.Do(two, chromedp.Navigate(rp.srv.URL+"/start")); err != nil {
		t.Fatal(err)
	}
	if s := shows(t, two, "#login", "#result"); s != "#login" {
		t.Fatal("the other browser is still signed in")
	}
	sids := map[any]bool{}
	for _, c := range drainLogouts(t, e, got, 2) {
		sids[c["sid"]] = true
	}
	if len(sids) != 2 || sids[nil] {
		t.Fatalf("the app's logout tokens name sessions %v, want two", sids)
	}
}

// TestAccountSignOutOfAppOnAllDevices (brief s21 H item 2): the account page's per-app sign-out
// says what it does, "Sign out of <app> on all your devices", and does that: the member's refresh
// tokens at the app from every browser are revoked, the app gets one logout token for all the
// member's sessions there (sub, no sid), and another app's grant is kept. Before, the button read
// "Sign out of <app>" (this browser, one would think) and the logout token named this browser's
// sid alone while every device's tokens were revoked.
func TestAccountSignOutOfAppOnAllDevices(t *testing.T) {
	rec, got := logoutRecorder(t)
	e := grantEnv(t, func(c *bridge.Config) {
		c.Clients[1].BackchannelLogoutURI = rec.URL + "/bcl" // "other"
		c.Clients[1].AllowInternalTargets = true
	})
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, "openid", "offline_access")
	here, there := e.browser(), e.browser()
	var refresh []string
	for _, b := range []*bridgetest.Browser{here, there} {
		tok, err := other.Exchange(e.ctx(), e.signIn(b, other.AuthCodeURL("s"), "alice", "alice-password"))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("sign-in: %v", err)
		}
		refresh = append(refresh, tok.RefreshToken)
	}
	webTok, err := web.Exchange(e.ctx(), e.signIn(here, web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil || webTok.RefreshToken == "" {
		t.Fatalf("web sign-in: %v", err)
	}
	acc := here.Get(e.issuer + "/account")
	if !strings.Contains(acc.Body, ">Sign out of Events App on all your devices</button>") {
		t.Fatalf("the button does not say all devices: %.2000s", acc.Body)
	}
	done := here.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"other"}, "action": {"signout"}})
	if !strings.Contains(done.Body, "on all your devices") {
		t.Fatalf("the notice does not say all devices: %d %.1000s", done.Status, done.Body)
	}
	for i, rt := range refresh {
		_, err := other.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: rt}).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("refresh token %d at the app after signing out of it: %v", i, err)
		}
	}
	if _, err := web.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: webTok.RefreshToken}).Token(); err != nil {
		t.Fatalf("the other app's refresh token: %v", err)
	}
	c := drainLogouts(t, e, got, 1)[0]
	if c["sid"] != nil || c["sub"] == nil {
		t.Fatalf("logout token: sid %v sub %v, want sub alone (every session of the member at the app)", c["sid"], c["sub"])
	}
	// Both browsers stay signed in to the bridge (and to the other app).
	if n := sessionsOf(t, e, "alice"); n != 2 {
		t.Fatalf("%d sessions left, want 2", n)
	}
}

// TestAccountSignOutAllDevicesSAML (brief s21 H item 1): "Sign out of all devices" tells the
// SAML apps too: alice is signed in at an SP with a SOAP single logout service in two browsers;
// signing out of all devices from one of them sends that SP a signed LogoutRequest (back
// channel, through the outbox) for each browser's session, which crewjam's SP accepts.
func TestAccountSignOutAllDevicesSAML(t *testing.T) {
	soapApp := newSAMLSP(t)
	e, _, _, _ := samlEnv(t)
	sp := startSOAP(t, e, soapApp)
	one, two := samlClient(), samlClient()
	indexes := map[string]bool{signInAtSP(t, e, one, soapApp): true, signInAtSP(t, e, two, soapApp): true}
	if len(indexes) != 2 {
		t.Fatalf("two browsers, session indexes %v", indexes)
	}
	_, body := fetch(t, func() (*http.Response, error) { return one.Get(e.issuer + "/account/signout-all") })
	f := formFields(body)
	resp, body := fetch(t, func() (*http.Response, error) {
		return one.PostForm(e.issuer+"/account/signout-all", url.Values{"csrf": {f.Get("csrf")}})
	})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="signed-out-all"`) {
		t.Fatalf("sign out of all devices: %d %.600s", resp.StatusCode, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) { // liveness bound
		if _, err := e.bridge.Shadow().DeliverDue(e.ctx()); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		got, errs := sp.requests()
		if len(errs) > 0 {
			t.Fatalf("the SP refused a LogoutRequest: %v", errs)
		}
		if len(got) == 2 {
			for _, lr := range got {
				idx := lr.AllSessionIndexes()
				if len(idx) != 1 || !indexes[idx[0].Value] {
					t.Fatalf("LogoutRequest for session %+v, want one of %v", idx, indexes)
				}
				delete(indexes, idx[0].Value)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SP got %d LogoutRequests, want 2", len(got))
		}
	}
}
