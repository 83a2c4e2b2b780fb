package bridge_test

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// localhostIssuer runs the bridge as http://localhost:port: WebAuthn needs a domain for its RP
// ID (an IP address is not one), and localhost is a secure context. It still listens on
// 127.0.0.1 only.
func localhostIssuer(c *bridge.Config) {
	c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1)
}

// lastLogin is the detail of the newest login.success audit row.
func lastLogin(t *testing.T, e *env) string {
	t.Helper()
	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "login.success", Limit: 1})
	if err != nil || len(evs) == 0 {
		t.Fatalf("no login.success audit row (%v)", err)
	}
	return evs[0].Detail
}

// TestBrowserPasskeys drives headless Chromium with the DevTools virtual authenticator
// (WebAuthn.addVirtualAuthenticator): a member adds a passkey on the security page, signs in
// with it alone (no login typed), uses it as the second factor after the password, is refused
// like after a password once the AMS disables the account, and removes it.
func TestBrowserPasskeys(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	// With the profile cache in front of the AMS, as in production: a passkey sign-in must still
	// see an account the AMS disabled a moment ago (review s4).
	e := newEnvDeps(t, false, nil, envDeps{profileCache: true}, addClient, localhostIssuer,
		func(c *bridge.Config) { c.Admin.Token = adminToken })
	e.issuer = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
	rp.connect(e)
	ctx := chrome(t, 3*time.Minute)

	signOut := func() {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(e.issuer+"/logout"),
			chromedp.Click(css("button[type=submit].primary")),
			chromedp.WaitVisible(css("#signed-out")),
		); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}

	// Password sign-in, then a virtual platform authenticator with user verification.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("password sign-in: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	authenticator, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}

	// Enrol a passkey.
	var added string
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+"/account/security"),
		chromedp.WaitVisible(css("#passkey-register")),
		chromedp.SetValue(css("#passkey-name"), "Test laptop"),
		chromedp.Click(css("#passkey-register")),
		chromedp.WaitVisible(css("#passkeys")),
	); err != nil {
		t.Fatalf("add a passkey: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	added = text(t, ctx, "#passkeys")
	if !strings.Contains(added, "Test laptop") {
		t.Fatalf("passkey list: %q", added)
	}

	// Sign in with the passkey alone: no login typed. signins_total counts it (method passkey).
	metricsSrv := httptest.NewServer(e.bridge.Metrics().Handler())
	t.Cleanup(metricsSrv.Close)
	metricsBefore, _ := scrapeMetrics(t, metricsSrv.URL)
	signOut()
	var result string
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#passkey-signin-button")),
		chromedp.Click(css("#passkey-signin-button")),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("passkey sign-in: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	result = text(t, ctx, "#result")
	if !strings.HasPrefix(result, "signed in: Alice Archer") {
		t.Fatalf("passkey sign-in result %q", result)
	}
	if d := lastLogin(t, e); d != "hwk+mfa" {
		t.Fatalf("passkey sign-in recorded %q, want hwk+mfa", d)
	}

	// The password now leads to the second factor; the passkey is it.
	signOut()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#passkey-use")),
		chromedp.Click(css("#passkey-use")),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("passkey as second factor: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	if d := lastLogin(t, e); d != "pwd+hwk+mfa" {
		t.Fatalf("second-factor sign-in recorded %q, want pwd+hwk+mfa", d)
	}

	// The AMS disables the account: a passkey sign-in is refused as a password one would be.
	signOut()
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	var refused string
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#passkey-signin-button")),
		chromedp.Click(css("#passkey-signin-button")),
		chromedp.WaitVisible(css("#passkey-error")),
	); err != nil {
		t.Fatalf("disabled member's passkey sign-in: %v", err)
	}
	refused = text(t, ctx, "#passkey-error")
	if !strings.Contains(refused, "disabled") {
		t.Fatalf("disabled member's passkey sign-in said %q", refused)
	}
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = false })
	metricsAfter, _ := scrapeMetrics(t, metricsSrv.URL)
	for series, want := range map[string]float64{
		`ssobridge_signins_total{method="passkey",outcome="ok"}`:       1,
		`ssobridge_signins_total{method="passkey",outcome="disabled"}`: 1,
	} {
		if got := metricsAfter[series] - metricsBefore[series]; got != want {
			t.Errorf("%s: changed by %v, want %v", series, got, want)
		}
	}

	// Remove it (this session used it, so the security page lets the member change things).
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#passkey-signin-button")),
		chromedp.Click(css("#passkey-signin-button")),
		chromedp.WaitVisible(css("#result")),
		chromedp.Navigate(e.issuer+"/account/security"),
		chromedp.WaitVisible(css("#passkeys")),
		chromedp.Click(css(`#passkeys button[value="passkey-remove"]`)),
		chromedp.WaitVisible(css("#no-passkeys")),
	); err != nil {
		t.Fatalf("remove the passkey: %v", err)
	}
	subs, _ := e.store.Sessions(e.ctx(), "")
	if len(subs) == 0 {
		t.Fatal("no session")
	}
	if creds, err := e.store.WebAuthnCredentials(e.ctx(), subs[0].Subject); err != nil || len(creds) != 0 {
		t.Fatalf("credentials after removal: %d, %v", len(creds), err)
	}
	evs, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "mfa.removed"})
	if len(evs) != 1 || evs[0].Detail != "passkey" {
		t.Fatalf("removal audit rows: %+v", evs)
	}

	// An administrator resets alice's factors: the reset ends this session too (it could
	// otherwise add a passkey with no step-up). She signs in again with her password, is told
	// about the reset there (once), and adds a new passkey.
	resetFactors(t, e, "alice")
	if _, err := chromedp.Call(ctx, webauthn.ClearCredentials, webauthn.ClearCredentialsParams{AuthenticatorID: authenticator.AuthenticatorID}); err != nil {
		t.Fatalf("WebAuthn.clearCredentials: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+"/account/security"),
		chromedp.WaitVisible(css("main")),
	); err != nil {
		t.Fatalf("security page after the reset: %v", err)
	}
	if got := pageText(ctx, "main"); !strings.Contains(got, "You are not signed in") {
		t.Fatalf("the session open before the reset still reaches the security page: %q", got)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#mfa-reset-notice")),
		chromedp.Click(css("#mfa-continue")),
		chromedp.WaitVisible(css("#result")),
		chromedp.Navigate(e.issuer+"/account/security"),
		chromedp.WaitVisible(css("#passkey-register")),
		chromedp.SetValue(css("#passkey-name"), "New laptop"),
		chromedp.Click(css("#passkey-register")),
		chromedp.WaitVisible(css("#passkeys")),
	); err != nil {
		t.Fatalf("sign in again after the reset and add a passkey: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	// The notice on a passkey-alone sign-in: a reset that races an enrolment (it commits
	// between the enrolment's session check and its new passkey) leaves a passkey and a notice
	// not yet told; the next sign-in, with that passkey alone, tells it once, before the
	// session opens.
	setResetNotice(t, e)
	signOut()
	before, _ := e.store.Sessions(e.ctx(), subs[0].Subject)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#passkey-signin-button")),
		chromedp.Click(css("#passkey-signin-button")),
		chromedp.WaitVisible(css("#mfa-reset-notice")),
	); err != nil {
		t.Fatalf("passkey sign-in after a reset: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	if during, _ := e.store.Sessions(e.ctx(), subs[0].Subject); len(during) != len(before) {
		t.Fatalf("a session opened before the notice was seen: %d, %d before", len(during), len(before))
	}
	if err := chromedp.Do(ctx, chromedp.Click(css("#mfa-continue")), chromedp.WaitVisible(css("#result"))); err != nil {
		t.Fatalf("continue after the notice: %v", err)
	}
	if d := lastLogin(t, e); d != "hwk+mfa" {
		t.Fatalf("passkey sign-in after the notice recorded %q, want hwk+mfa", d)
	}
	signOut()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#passkey-signin-button")),
		chromedp.Click(css("#passkey-signin-button")),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("the passkey sign-in after the notice was told: %v", err)
	}
}

// setResetNotice sets every member's factor-reset notice in e's store, keeping their factors.
func setResetNotice(t *testing.T, e *env) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE mfa_members SET reset_notice = 1`); err != nil {
		t.Fatal(err)
	}
}

// pageText is the text of sel, or "" (for failure messages).
func pageText(ctx context.Context, sel string) string {
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(tctx, chromedp.Text(css(sel), chromedp.AtLeast(0)))
	return s
}
