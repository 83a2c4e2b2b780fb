package bridge_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	webupstream "github.com/ssobridge/ssobridge/bridge/web/upstream"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/sso"
)

// newFederationOver is newFederation with the bridge's directory given (dir), as production
// runs it: the AMS behind the profile cache.
func newFederationOver(t *testing.T, dir legacy.Directory, provider func(*upstream.ProviderConfig)) *federation {
	t.Helper()
	downLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downIssuer := "http://" + downLn.Addr().String()
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, upPort, _ := net.SplitHostPort(upLn.Addr().String())
	up := newEnvAt(t, upLn, "http://localhost:"+upPort, false, nil, envDeps{}, func(c *bridge.Config) {
		c.Policy.EmailVerified = true
		c.Clients = append(c.Clients, config.Client{ID: "association", Name: "Association sign-in", Secret: upstreamClientSecret,
			Trusted: true, RedirectURIs: []string{webupstream.CallbackURL(downIssuer, "corp")}})
	})
	pc := upstream.ProviderConfig{Name: "corp", DisplayName: "Corp ID", Issuer: up.issuer, ClientID: "association",
		ClientSecret: upstreamClientSecret}
	if provider != nil {
		provider(&pc)
	}
	rp, addClient := newRelyingParty(t)
	down := newEnvAt(t, downLn, downIssuer, false, dir, envDeps{}, addClient, func(c *bridge.Config) {
		c.UpstreamProviders = append(c.UpstreamProviders, pc)
		c.Policy.EmailVerified = pc.LinkByEmail // link_by_email needs it (X19-10's inbound twin)
	})
	rp.connect(down)
	return &federation{t: t, up: up, down: down, rp: rp}
}

// TestUpstreamSignInReadsStandingFromTheAMS (review s4): a sign-in through an upstream provider
// is a new sign-in, and the AMS decides it as it is now, as a password check does: a member the
// AMS has just disabled is refused even while the profile cache still holds them as active.
func TestUpstreamSignInReadsStandingFromTheAMS(t *testing.T) {
	ams := bridgetest.NewDirectory()
	cached := cache.Wrap(ams, cache.Options{TTL: time.Hour})
	f := newFederationOver(t, cached, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	ctx := context.Background()

	b := newHTTPFed(t, f)
	if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("first upstream sign-in did not reach the app: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	alice, err := ams.MemberByLogin(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// The cache holds alice as active (any read of her does this: a session re-check, a token).
	if m, err := cached.MemberByKey(ctx, alice.Key); err != nil || m.Standing.Disabled {
		t.Fatalf("cached alice: %+v %v", m, err)
	}
	ams.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	sub, err := f.down.store.SubjectByMemberKey(ctx, alice.Key)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := f.down.store.Sessions(ctx, sub.Subject)

	other := newHTTPFed(t, f)
	p := other.do(http.MethodGet, other.toCallback(f, "corp").String(), nil)
	if strings.HasPrefix(p.Location, f.rp.srv.URL) || p.Status != http.StatusForbidden || !strings.Contains(p.Body, "disabled") {
		t.Fatalf("a member disabled in the AMS signed in through the upstream: %d %q %.600s", p.Status, p.Location, p.Body)
	}
	if after, _ := f.down.store.Sessions(ctx, sub.Subject); len(after) != len(before) {
		t.Fatalf("a disabled member got a session: %d sessions, %d before", len(after), len(before))
	}
}

// TestUpstreamEmailLinkSeesEveryMatch (review s4): automatic linking needs exactly one active
// member with the address; a second active member is seen however many inactive records with
// the same address sort before it (the lookup was cut at 10 rows).
func TestUpstreamEmailLinkSeesEveryMatch(t *testing.T) {
	ams := bridgetest.NewDirectory()
	for i := range 9 { // inactive records sorting before alice's key
		ams.Add(&legacy.Member{Key: fmt.Sprintf("0000000%d-old", i), MemberID: fmt.Sprintf("90%d", i), Login: fmt.Sprintf("old%d", i),
			Email: "alice@example.org", Standing: legacy.Standing{Approved: true, Disabled: true}}, "x")
	}
	ams.Add(&legacy.Member{Key: "99999999-twin", MemberID: "999", Login: "twin", Email: "Alice@example.org",
		Standing: legacy.Standing{Approved: true}}, "twin-password")
	f := newFederationOver(t, ams, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	b := newHTTPFed(t, f)
	p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Link your account") {
		t.Fatalf("two active members share the address, yet no password was asked: %d %q %.400s", p.Status, p.Location, p.Body)
	}
}

// TestUpstreamSignInWithoutSecondFactorOpensNoAccount (review s4 F9, F9b): for a member who
// uses a second factor, an upstream sign-in alone opens no session at all (no cookie, no session
// row, no upstream-session record): it waits at the second-factor step exactly as a password
// sign-in does, so no app and no account page sees it. The step opens the session, records the
// upstream session with it (so the provider's back-channel logout still ends it), and is taken
// once, by this browser, while it lasts.
func TestUpstreamSignInWithoutSecondFactorOpensNoAccount(t *testing.T) {
	f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	ctx := context.Background()
	// alice signs in with her password and sets up an authenticator app.
	pw := f.down.browser()
	web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
	f.down.signIn(pw, web.AuthCodeURL("s"), "alice", "alice-password")
	secret, _ := enrolTOTP(t, f.down, pw)
	sub := f.subject("alice")
	before, _ := f.down.store.Sessions(ctx, sub)

	// Another browser signs in through the upstream (alice's address links her): it is sent to
	// the second-factor step, and nothing else exists yet.
	b := newHTTPFed(t, f)
	step := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil)
	if strings.HasPrefix(step.Location, f.rp.srv.URL) || step.URL.Path != "/login/mfa" || step.Hidden().Get("c") == "" {
		t.Fatalf("the upstream sign-in did not wait at the second-factor step: %d %s %q", step.Status, step.URL, step.Location)
	}
	if after, _ := f.down.store.Sessions(ctx, sub); len(after) != len(before) {
		t.Fatalf("a session was opened before the second factor: %d sessions, %d before", len(after), len(before))
	}
	links, err := f.down.store.UpstreamLinks(ctx, sub)
	if err != nil || len(links) != 1 {
		t.Fatalf("upstream links: %v %d", err, len(links))
	}
	// Only the held sign-in is recorded (for the upstream's logout: review s5 V6), no session.
	if ids, _ := f.down.store.UpstreamSessions(ctx, links[0].Issuer, links[0].UpstreamSubject, ""); len(ids) != 1 || !store.IsHeldSignIn(ids[0]) {
		t.Fatalf("upstream sessions before the second factor: %v", ids)
	}
	if acct := b.do(http.MethodGet, f.down.issuer+"/account", nil); acct.Status != http.StatusUnauthorized || strings.Contains(acct.Body, "alice@example.org") {
		t.Fatalf("the account page between the upstream and the second factor: %d %.300s", acct.Status, acct.Body)
	}
	// The step's URL in another browser, and a made-up one: refused, nothing opened.
	other := newHTTPFed(t, f)
	if p := other.do(http.MethodGet, step.URL.String(), nil); p.Status != http.StatusForbidden {
		t.Fatalf("the step opened in another browser: %d", p.Status)
	}
	if p := b.do(http.MethodGet, f.down.issuer+"/login/mfa?c=made-up", nil); p.Status != http.StatusBadRequest {
		t.Fatalf("a made-up step: %d", p.Status)
	}
	// "continue" without the factor is refused.
	hid := step.Hidden()
	post := func(h *httpFed, method, code string) *bridgetest.Page {
		return h.do(http.MethodPost, f.down.issuer+"/login/mfa", url.Values{"csrf": {hid.Get("csrf")}, "c": {hid.Get("c")},
			"method": {method}, "code": {code}})
	}
	if p := post(b, "continue", ""); p.Status != http.StatusBadRequest {
		t.Fatalf("continue without the second factor: %d %q", p.Status, p.Location)
	}
	// The code: the session opens (fed + otp + mfa), the app gets its code.
	done := post(b, "totp", totpCode(t, secret, 1))
	if !strings.HasPrefix(done.Location, f.rp.srv.URL) {
		t.Fatalf("after the second factor: %d %s %q %.300s", done.Status, done.URL, done.Location, done.Body)
	}
	after, _ := f.down.store.Sessions(ctx, sub)
	if len(after) != len(before)+1 {
		t.Fatalf("sessions after the second factor: %d, %d before", len(after), len(before))
	}
	var opened *sso.Session
	for _, s := range after {
		if !slices.ContainsFunc(before, func(o *sso.Session) bool { return o.ID == s.ID }) {
			opened = s
		}
	}
	if opened == nil || !slices.Equal(opened.AMR, []string{"fed", "otp", "mfa"}) {
		t.Fatalf("the new session: %+v", opened)
	}
	if ids, _ := f.down.store.UpstreamSessions(ctx, links[0].Issuer, links[0].UpstreamSubject, ""); !slices.Equal(ids, []string{opened.ID}) {
		t.Fatalf("upstream sessions after the second factor: %v, want [%s]", ids, opened.ID)
	}
	// Replayed: the step is done; nothing more opens.
	fresh := b.do(http.MethodGet, f.down.issuer+"/account/security", nil).Hidden().Get("csrf")
	replay := b.do(http.MethodPost, f.down.issuer+"/login/mfa", url.Values{"csrf": {fresh}, "c": {hid.Get("c")}, "method": {"totp"},
		"code": {totpCode(t, secret, 1)}})
	if replay.Status != http.StatusConflict {
		t.Fatalf("replayed step: %d %q", replay.Status, replay.Location)
	}
	if again, _ := f.down.store.Sessions(ctx, sub); len(again) != len(after) {
		t.Fatalf("a replayed step opened a session: %d", len(again))
	}
}
