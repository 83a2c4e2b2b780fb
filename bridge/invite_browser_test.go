package bridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestBrowserFirstPasskeyInvitation drives headless Chromium with the DevTools virtual
// authenticator: with mfa.first_enrolment: invitation, a member signed in with the password
// adds a first passkey on the security page only with the invitation code an administrator
// issued them: without a code the registration is not begun, with a wrong one the passkey made
// on the device is not stored (one answer, which does not say why), and with the code it is
// added, the code used in the same transaction.
func TestBrowserFirstPasskeyInvitation(t *testing.T) {
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
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		}}); err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	sub := identitySubject(t, e, mustMember(t, e, "alice").Key)
	noPasskey := func(what string) {
		t.Helper()
		if creds, err := e.store.WebAuthnCredentials(e.ctx(), sub); err != nil || len(creds) != 0 {
			t.Fatalf("%s: %d passkeys stored (%v)", what, len(creds), err)
		}
	}
	// refused clicks "Add a passkey" with invite typed and returns the error the page shows.
	refused := func(invite string) string {
		t.Helper()
		steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(e.issuer + "/account/security"), chromedp.WaitVisible(css("#passkey-invite"))}
		if invite != "" {
			steps = append(steps, chromedp.SendKeys(css("#passkey-invite"), invite))
		}
		steps = append(steps, chromedp.Click(css("#passkey-register")), chromedp.WaitVisible(css("#passkey-error")),
			chromedp.WaitEnabled(css("#passkey-register")))
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("add a passkey with %q: %v", invite, err)
		}
		return text(t, ctx, "#passkey-error")
	}
	if got := refused(""); !strings.Contains(got, inviteMissing) {
		t.Fatalf("without a code the page said %q", got)
	}
	noPasskey("without a code")
	if got := refused("aaaaa-bbbbb-ccccc-ddddd"); !strings.Contains(got, inviteRefused) {
		t.Fatalf("with a wrong code the page said %q", got)
	}
	noPasskey("with a wrong code")

	code := issueInvite(t, e, "alice")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+"/account/security"),
		chromedp.WaitVisible(css("#passkey-invite")),
		chromedp.SetValue(css("#passkey-name"), "Invited laptop"),
		chromedp.SendKeys(css("#passkey-invite"), code),
		chromedp.Click(css("#passkey-register")),
		chromedp.WaitVisible(css("#passkeys")),
	); err != nil {
		t.Fatalf("add a passkey with the code: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	if got := text(t, ctx, "#passkeys"); !strings.Contains(got, "Invited laptop") {
		t.Fatalf("passkey list: %q", got)
	}
	// A member with a factor is asked no code.
	if got := pageText(ctx, "#passkey-add"); strings.Contains(got, "Invitation code") {
		t.Fatalf("the security page still asks a code: %q", got)
	}
	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "mfa.invite_used"})
	if err != nil || len(evs) != 1 || evs[0].Detail != "passkey" || evs[0].Subject != sub {
		t.Fatalf("mfa.invite_used rows: %v %+v", err, evs)
	}
}

// TestBrowserFirstTOTPInvitation: in Chromium, a member without a factor signing in to an app
// that requires one, with mfa.first_enrolment: invitation, sets up an authenticator app at the
// sign-in step: the step refuses the authenticator's code without the invitation code, and
// with it enrols and goes on to the app.
func TestBrowserFirstTOTPInvitation(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	e := newEnvDeps(t, false, nil, envDeps{}, addClient, invitationFirst, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "browserapp" {
				c.Clients[i].MFA = "required"
			}
		}
	})
	rp.connect(e)
	ctx := chrome(t, 3*time.Minute)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#totp-secret")),
		chromedp.WaitVisible(css("#invite")),
	); err != nil {
		t.Fatalf("password sign-in to the step: %v", err)
	}
	secret := text(t, ctx, "#totp-secret")
	// The browser's own check (required) is not what refuses: the form is sent past it.
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#code"), totpCode(t, secret, 0))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#invite").form.submit(), true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#mfa-error"))); err != nil {
		t.Fatalf("the step without an invitation code: %v", err)
	}
	if got := text(t, ctx, "#mfa-error"); !strings.Contains(got, inviteMissing) {
		t.Fatalf("without a code the step said %q", got)
	}
	noConfirmedTOTP(t, e, "alice", "without a code")
	code := issueInvite(t, e, "alice")
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(css("#invite")),
		chromedp.SendKeys(css("#code"), totpCode(t, secret, 0)),
		chromedp.SendKeys(css("#invite"), code),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#recovery-codes")),
		chromedp.Click(css("#mfa-continue")),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("the step with the invitation code: %v (page error %q)", err, pageText(ctx, "#mfa-error"))
	}
	if got := text(t, ctx, "#result"); !strings.HasPrefix(got, "signed in: Alice Archer") {
		t.Fatalf("result %q", got)
	}
}
