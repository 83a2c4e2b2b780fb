package bridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestBrowserPasskeyInviteFieldKeepsCeremony (brief s22 H2 item 6, review s21 Q2 note): in
// Chromium with the DevTools virtual authenticator, alice (mfa.first_enrolment: invitation)
// adds a passkey on a security page loaded while she had an authenticator app, so without the
// invitation code's field; the app is removed (another tab) while the authenticator is asked,
// so the finish needs a code and keeps its ceremony. The page now shows the code field and
// keeps the authenticator's answer: typed, the same passkey is stored, no second one made on
// the device. Before, static/passkeys.js asked for a reload, which lost the ceremony (and left a
// passkey on the device the bridge never stored).
func TestBrowserPasskeyInviteFieldKeepsCeremony(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	e := newEnvDeps(t, false, nil, envDeps{}, addClient, localhostIssuer, invitationFirst)
	e.issuer = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
	rp.connect(e)
	ctx := chrome(t, 3*time.Minute)
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
	// An authenticator app first (with an invitation), in this session: a recent step-up.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+"/account/security"),
		chromedp.Click(css("#totp-begin")),
		chromedp.WaitVisible(css("#totp-secret")),
	); err != nil {
		t.Fatalf("authenticator app: %v", err)
	}
	secret := text(t, ctx, "#totp-secret")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#code"), totpCode(t, secret, 0)),
		chromedp.SendKeys(css("#invite"), issueInvite(t, e, "alice")),
		chromedp.Click(css("button[value=totp-confirm]")),
		chromedp.WaitVisible(css("#recovery-codes")),
	); err != nil {
		t.Fatalf("authenticator app confirmed: %v", err)
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
	onDevice := func() []string {
		t.Helper()
		creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authenticator.AuthenticatorID})
		if err != nil {
			t.Fatalf("WebAuthn.getCredentials: %v", err)
		}
		var ids []string
		for _, c := range creds.Credentials {
			ids = append(ids, string(c.CredentialID))
		}
		return ids
	}
	sub := identitySubject(t, e, mustMember(t, e, "alice").Key)
	stored := func() []string {
		t.Helper()
		creds, err := e.store.WebAuthnCredentials(e.ctx(), sub)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range creds {
			ids = append(ids, string(c.ID))
		}
		return ids
	}

	// The page, with a factor: no code field. Its first finish waits until the test lets it go.
	const holdFinishOnce = `(() => {
		const f = window.fetch;
		let held = false;
		window.fetch = function (url, opts) {
			if (!held && String(url).endsWith("/passkey/finish")) {
				held = true;
				return new Promise((go) => { window.__releaseFinish = go; window.__finishHeld = true; })
					.then(() => f.call(this, url, opts));
			}
			return f.call(this, url, opts);
		};
		return true;
	})()`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+"/account/security"),
		chromedp.WaitVisible(css("#passkey-register")),
	); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#passkey-invite").length`)); err != nil || n != 0 {
		t.Fatalf("the page of a member with a factor shows %d code fields: %v", n, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](holdFinishOnce)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(css("#passkey-name"), "Kept laptop"),
		chromedp.Click(css("#passkey-register")),
	); err != nil {
		t.Fatalf("the first try: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.__finishHeld === true`, chromedp.WithPollingTimeout(time.Minute))); err != nil {
		t.Fatalf("the first try's finish was not sent: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	// The authenticator app is removed meanwhile (another tab): the passkey is now a first factor.
	if err := e.store.DeleteTOTP(e.ctx(), sub); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.__releaseFinish(), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(css("#passkey-error")),
		chromedp.WaitVisible(css("#passkey-invite")),
		chromedp.WaitEnabled(css("#passkey-register")),
	); err != nil {
		t.Fatalf("the finish without the code: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	if got := text(t, ctx, "#passkey-error"); !strings.Contains(got, inviteMissing) || strings.Contains(got, "Reload") {
		t.Fatalf("the finish without the code: the page said %q", got)
	}
	first := onDevice()
	if s := stored(); len(first) != 1 || len(s) != 0 {
		t.Fatalf("after the refused finish: %d passkeys on the device, %d stored; want 1 and 0", len(first), len(s))
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#passkey-invite"), issueInvite(t, e, "alice")),
		chromedp.Click(css("#passkey-register")),
		chromedp.WaitVisible(css("#passkeys")),
	); err != nil {
		t.Fatalf("the second try: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	if d, s := onDevice(), stored(); len(d) != 1 || len(s) != 1 || d[0] != first[0] || s[0] != first[0] {
		t.Fatalf("after the second try: device %x, stored %x; want the first try's passkey %x in both (its kept ceremony)", d, s, first)
	}
}
