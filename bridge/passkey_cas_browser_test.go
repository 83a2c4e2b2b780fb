package bridge_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestBrowserPasskeyNoSessionBeforeRequest: a passkey sign-in for an app writes no session when
// the passkey is accepted (the JSON answer): the page goes on to a one-time continuation that
// completes the request with the session, in one transaction. Two passkey sign-ins of one
// request (two ceremonies, both finished) leave no session until followed; the first
// followed gets the app its code, the other is refused; one session. Before, each accepted
// passkey wrote its session at once (the login page completed the request afterwards).
func TestBrowserPasskeyNoSessionBeforeRequest(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	e := newEnvDeps(t, false, nil, envDeps{}, addClient, localhostIssuer)
	e.issuer = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
	rp.connect(e)
	ctx := chrome(t, 3*time.Minute)
	live := func() int {
		t.Helper()
		l, err := e.store.Sessions(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}

	// Password sign-in, a virtual authenticator, a passkey added; then signed out.
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
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+"/account/security"),
		chromedp.WaitVisible(css("#passkey-register")),
		chromedp.SetValue(css("#passkey-name"), "Test laptop"),
		chromedp.Click(css("#passkey-register")),
		chromedp.WaitVisible(css("#passkeys")),
		chromedp.Navigate(e.issuer+"/logout"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#signed-out")),
	); err != nil {
		t.Fatalf("add a passkey, sign out: %v (page error %q)", err, pageText(ctx, "#passkey-error"))
	}
	if n := live(); n != 0 {
		t.Fatalf("%d live sessions after signing out", n)
	}

	// The login page of a request: two passkey sign-ins, one after the other (the
	// authenticator takes one at a time; finished at once, the second's signature counter may
	// be stored first and the first is refused as a clone).
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#passkey-signin-button")),
	); err != nil {
		t.Fatalf("login page: %v", err)
	}
	// One passkey sign-in of the page's request: begin, the authenticator, finish (the JSON
	// answer, not followed).
	const once = `(async () => {
  const s = document.getElementById("passkey-signin");
  const fields = { csrf: s.dataset.csrf, id: s.dataset.request };
  const post = async (u, f) => {
    const r = await fetch(u, { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" }, body: new URLSearchParams(f) });
    return { status: r.status, body: await r.json().catch(() => ({})) };
  };
  const b = await post("/login/passkey/begin", fields);
  const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(b.body.options.publicKey) });
  return JSON.stringify(await post("/login/passkey/finish", Object.assign({}, fields, { ceremony: b.body.ceremony, credential: JSON.stringify(cred.toJSON()) })));
})()`
	type finished struct {
		Status int               `json:"status"`
		Body   map[string]string `json:"body"`
	}
	var done []finished
	for i := range 2 {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](once, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("passkey sign-in %d: %v", i+1, err)
		}
		var d finished
		if err := json.Unmarshal([]byte(raw), &d); err != nil || d.Status != 200 || d.Body["next"] == "" {
			t.Fatalf("passkey sign-in %d answered %s (%v)", i+1, raw, err)
		}
		if n := live(); n != 0 {
			t.Fatalf("%d live sessions once passkey sign-in %d was accepted, want 0 (no session before the request's compare-and-set)", n, i+1)
		}
		done = append(done, d)
	}
	// The first followed: the app is signed in.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+done[0].Body["next"]),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("follow the first: %v", err)
	}
	if r := text(t, ctx, "#result"); !strings.HasPrefix(r, "signed in: Alice Archer") {
		t.Fatalf("passkey sign-in result %q", r)
	}
	// The second: the request is finished; refused, nothing written.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.issuer+"/account")); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`fetch(`+strconvQuote(done[1].Body["next"])+`, { credentials: "same-origin", redirect: "manual" }).then((r) => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("follow the second: %v", err)
	}
	if status < 400 {
		t.Errorf("the second passkey sign-in of a finished request answered %d, want refused", status)
	}
	if n := live(); n != 1 {
		t.Fatalf("%d live sessions after both, want 1", n)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
