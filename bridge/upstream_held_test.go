package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/upstream"
)

// TestUpstreamLogoutEndsTheHeldSignIn (review s5 V6): an upstream sign-in waits at the
// second-factor step without a session; the provider's back-channel logout of that upstream
// session, arriving then, ends the held sign-in: the step is refused afterwards (with the
// right code), no session opens, and the app gets nothing.
func TestUpstreamLogoutEndsTheHeldSignIn(t *testing.T) {
	f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	ctx := context.Background()
	pw := f.down.browser()
	web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
	f.down.signIn(pw, web.AuthCodeURL("s"), "alice", "alice-password")
	secret, _ := enrolTOTP(t, f.down, pw)
	sub := f.subject("alice")
	before, _ := f.down.store.Sessions(ctx, sub)

	b := newHTTPFed(t, f)
	step := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil)
	if step.URL.Path != "/login/mfa" || step.Hidden().Get("c") == "" {
		t.Fatalf("the upstream sign-in did not wait at the second-factor step: %d %s %q", step.Status, step.URL, step.Location)
	}
	// Sign out at the upstream while the step waits; its logout token reaches the bridge.
	hid := b.do(http.MethodGet, f.up.issuer+"/logout", nil).Hidden()
	if p := b.do(http.MethodPost, f.up.issuer+"/logout", url.Values{"csrf": {hid.Get("csrf")}, "t": {hid.Get("t")}}); p.Status != http.StatusOK {
		t.Fatalf("upstream sign-out: %d %.300s", p.Status, p.Body)
	}
	if _, err := f.up.bridge.Shadow().DeliverDue(ctx); err != nil {
		t.Fatalf("deliver the upstream's logout token: %v", err)
	}
	// The step, with the right code: refused, nothing opens.
	sh := step.Hidden()
	done := b.do(http.MethodPost, f.down.issuer+"/login/mfa", url.Values{"csrf": {sh.Get("csrf")}, "c": {sh.Get("c")},
		"method": {"totp"}, "code": {totpCode(t, secret, 1)}})
	if done.Status != http.StatusConflict || strings.HasPrefix(done.Location, f.rp.srv.URL) || !strings.Contains(done.Body, "signed out") {
		t.Fatalf("the step after the upstream's logout: %d %q %.400s", done.Status, done.Location, done.Body)
	}
	if after, _ := f.down.store.Sessions(ctx, sub); len(after) != len(before) {
		t.Fatalf("a session opened after the upstream's logout: %d sessions, %d before", len(after), len(before))
	}
	if p := b.do(http.MethodGet, step.URL.String(), nil); p.Status != http.StatusConflict {
		t.Fatalf("the step page after the upstream's logout: %d", p.Status)
	}
}
