package bridge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
)

// onlySession returns the one live session of login's subject in e.
func onlySession(t *testing.T, e *env, login string) *sso.Session {
	t.Helper()
	l, err := e.store.Sessions(context.Background(), identitySubject(t, e, mustMember(t, e, login).Key))
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 {
		t.Fatalf("%s has %d live sessions, want 1", login, len(l))
	}
	return l[0]
}

// TestReauthenticationReplayedKeepsTheSession: the re-authenticating login form posted again
// once its request is finished (with a valid CSRF token) is refused as already used and
// changes nothing: the session and the browser's cookie stay as they were.
func TestReauthenticationReplayedKeepsTheSession(t *testing.T) {
	e := grantEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, other.AuthCodeURL("a"), "alice", "alice-password")
	before := onlySession(t, e, "alice")
	f := b.Get(web.AuthCodeURL("b", oauth2.SetAuthURLParam("prompt", "login"))).Hidden()
	form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
	if p := b.Post(e.issuer+"/login", form); !strings.Contains(p.Location, "code=") {
		t.Fatalf("fresh sign-in: %d %q", p.Status, p.Location)
	}
	after := onlySession(t, e, "alice")
	if after.ID != before.ID || !after.AuthTime.After(before.AuthTime) {
		t.Fatalf("session after the fresh sign-in: %s at %v, want %s signed in after %v", after.ID, after.AuthTime, before.ID, before.AuthTime)
	}
	form.Set("csrf", b.Get(e.issuer+"/end_session").Hidden().Get("csrf"))
	if p := b.Post(e.issuer+"/login", form); p.Status != http.StatusConflict || p.Location != "" {
		t.Fatalf("the finished form posted again: %d %q", p.Status, p.Location)
	}
	if again := onlySession(t, e, "alice"); again.ID != after.ID || !again.AuthTime.Equal(after.AuthTime) {
		t.Fatalf("the replay changed the session: %+v", again)
	}
	if code := e.signIn(b, other.AuthCodeURL("c"), "", ""); code == "" {
		t.Fatal("the browser lost its session to the replay")
	}
}

// TestReauthenticationWithSecondFactorKeepsTheSession: a fresh sign-in that passes the
// second-factor step (bridge/web/mfa) keeps the session too: same sid, no logout token for the
// other app, amr with the factor.
func TestReauthenticationWithSecondFactorKeepsTheSession(t *testing.T) {
	rec := newBCLRecorder(t)
	e := grantEnv(t, rec.withBCL)
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	sid := sidOf(t, e, other, e.signIn(b, other.AuthCodeURL("a"), "alice", "alice-password"))
	secret, _ := enrolTOTP(t, e, b)
	before := onlySession(t, e, "alice")
	step := mfaStep(t, e, b, web.AuthCodeURL("b", oauth2.SetAuthURLParam("prompt", "login")))
	code := submitStep(b, e, step, "totp", totpCode(t, secret, 1)).Redirected(t).Get("code")
	after := onlySession(t, e, "alice")
	if after.ID != before.ID || !slices.Contains(after.AMR, "mfa") || !slices.Contains(after.Clients, "web") {
		t.Fatalf("session after the fresh sign-in with a second factor: %+v, want %s with mfa and web", after, before.ID)
	}
	_ = verifier
	if got := sidOf(t, e, web, code); got != sid {
		t.Errorf("sid %q, want the session's %q", got, sid)
	}
	if l := rec.delivered(t, e); len(l) != 0 {
		t.Fatalf("the fresh sign-in sent the other app %d logout tokens", len(l))
	}
	signOut(t, e, b)
	if l := rec.delivered(t, e); len(l) != 1 || l[0]["sid"] != sid {
		t.Fatalf("after signing out, the other app got %v, want its logout token with sid %s", l, sid)
	}
}

// TestSAMLForceAuthnKeepsTheSession: an SP's ForceAuthn asks for the password again and then
// keeps the member's session (its id, so its apps and SAML participants stay signed in), with
// the new sign-in's auth time.
func TestSAMLForceAuthnKeepsTheSession(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	request := func(force bool) string {
		t.Helper()
		return samlAuthn(t, e, lms, c, nil, &force)
	}
	login := func(body string) string {
		t.Helper()
		f := formFields(body)
		resp, err := c.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
			"login": {"alice"}, "password": {"alice-password"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if body := login(request(false)); !strings.Contains(body, `name="SAMLResponse"`) {
		t.Fatalf("first sign-in: %.300s", body)
	}
	before := onlySession(t, e, "alice")
	body := request(true)
	if !strings.Contains(body, `action="`+saml.PathLogin+`"`) {
		t.Fatalf("ForceAuthn did not ask for the password: %.300s", body)
	}
	if body := login(body); !strings.Contains(body, `name="SAMLResponse"`) {
		t.Fatalf("ForceAuthn sign-in: %.300s", body)
	}
	after := onlySession(t, e, "alice")
	if after.ID != before.ID || !after.AuthTime.After(before.AuthTime) {
		t.Fatalf("after ForceAuthn: session %s at %v, want %s signed in after %v", after.ID, after.AuthTime, before.ID, before.AuthTime)
	}
	if n, err := e.bridge.Shadow().DeliverDue(e.ctx()); err != nil || n != 0 {
		t.Fatalf("ForceAuthn queued %d logouts (%v)", n, err)
	}
	// Without ForceAuthn the session answers at once.
	if body := request(false); !strings.Contains(body, `name="SAMLResponse"`) {
		t.Fatalf("after ForceAuthn the session does not answer: %.300s", body)
	}
}

// TestUpstreamReauthenticationKeepsTheSession: a fresh sign-in through the upstream provider
// (prompt=login forwarded, the provider asking for the password again) keeps the bridge
// session the earlier upstream sign-in opened, with its upstream record (the provider's
// back-channel logout still ends it).
func TestUpstreamReauthenticationKeepsTheSession(t *testing.T) {
	f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	b := newHTTPFed(t, f)
	if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("first upstream sign-in did not reach the app: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	before := onlySession(t, f.down, "alice")
	noFollow := &http.Client{Jar: b.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
	hid := b.do(http.MethodGet, web.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "login")), nil).Hidden()
	resp, err := noFollow.PostForm(f.down.issuer+"/upstream/corp/start", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p := b.do(http.MethodGet, resp.Header.Get("Location"), nil)
	uh := p.Hidden()
	if uh.Get("id") == "" {
		t.Fatalf("the upstream did not ask for the password: %d %s %.300s", p.Status, p.URL, p.Body)
	}
	p = b.do(http.MethodPost, f.up.issuer+"/login", url.Values{"csrf": {uh.Get("csrf")}, "id": {uh.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}})
	if p = b.do(http.MethodGet, p.Location, nil); !strings.HasPrefix(p.Location, f.rp.srv.URL+"/callback") || !strings.Contains(p.Location, "code=") {
		t.Fatalf("fresh upstream sign-in did not reach the app: %d %q %.600s", p.Status, p.Location, p.Body)
	}
	after := onlySession(t, f.down, "alice")
	if after.ID != before.ID || !after.AuthTime.After(before.AuthTime) || !slices.Contains(after.Clients, "browserapp") {
		t.Fatalf("after the fresh upstream sign-in: %+v, want session %s signed in again", after, before.ID)
	}
	if _, err := f.down.store.UpstreamSession(context.Background(), after.ID); err != nil {
		t.Fatalf("the session lost its upstream record: %v", err)
	}
	// The provider's sign-out still ends it.
	f.signOutDownAtUpstream(t, b)
	if l, _ := f.down.store.Sessions(context.Background(), after.Subject); len(l) != 0 {
		t.Fatalf("sessions after the provider's back-channel logout: %+v", l)
	}
}

// signOutDownAtUpstream signs the member out at the upstream provider and delivers its
// back-channel logout to the bridge.
func (f *federation) signOutDownAtUpstream(t *testing.T, b *httpFed) {
	t.Helper()
	hid := b.do(http.MethodGet, f.up.issuer+"/logout", nil).Hidden()
	if p := b.do(http.MethodPost, f.up.issuer+"/logout", url.Values{"csrf": {hid.Get("csrf")}, "t": {hid.Get("t")}}); p.Status != http.StatusOK {
		t.Fatalf("upstream sign-out: %d %.300s", p.Status, p.Body)
	}
	if _, err := f.up.bridge.Shadow().DeliverDue(context.Background()); err != nil {
		t.Fatalf("deliver the upstream's logout token: %v", err)
	}
}

// heldAtConsentThenSignedOut starts the tests of an upstream sign-in held at the consent page
// whose provider then signs the member out: a federation (deps: the bridge's) whose
// "browserapp" asks for consent, alice's sign-in through "corp" waiting at its consent page,
// the provider's sign-out (its back-channel logout delivered), and the consent form to post
// (allowing).
func heldAtConsentThenSignedOut(t *testing.T, deps envDeps) (*federation, *httpFed, url.Values) {
	t.Helper()
	f := newFederationDeps(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, deps, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "browserapp" {
				c.Clients[i].Trusted = false
			}
		}
	})
	b := newHTTPFed(t, f)
	p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil)
	consent := p.Hidden()
	if p.URL.Path != "/consent" || consent.Get("h") == "" {
		t.Fatalf("the upstream sign-in did not wait at the consent page: %d %s %q %.300s", p.Status, p.URL, p.Location, p.Body)
	}
	f.signOutDownAtUpstream(t, b)
	consent.Set("decision", "allow")
	return f, b, consent
}

// TestUpstreamLogoutWhileHeldForConsent (review s10 leftover): the provider signs the member
// out (its back-channel logout) while their upstream sign-in waits at the consent page: the
// consent then opens no session and gives the app no code ("This sign-in has ended"), and the
// consent form posted again changes nothing.
func TestUpstreamLogoutWhileHeldForConsent(t *testing.T) {
	f, b, consent := heldAtConsentThenSignedOut(t, envDeps{})
	for _, try := range []string{"consent", "consent again"} {
		p := b.do(http.MethodPost, f.down.issuer+"/consent", consent)
		if p.Location != "" || p.Status == http.StatusOK || strings.Contains(p.Location, "code=") {
			t.Fatalf("%s after the provider's logout: %d %q %.300s", try, p.Status, p.Location, p.Body)
		}
		if try == "consent" && (p.Status != http.StatusConflict || !strings.Contains(p.Body, "This sign-in has ended")) {
			t.Fatalf("consent after the provider's logout: %d %.300s, want 'This sign-in has ended'", p.Status, p.Body)
		}
		if l, _ := f.down.store.Sessions(context.Background(), f.subject("alice")); len(l) != 0 {
			t.Fatalf("%s after the provider's logout opened a session: %+v", try, l)
		}
	}
}
