package bridge_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	crewjam "github.com/crewjam/saml"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/legacy"
)

// tokenOP is an upstream OpenID provider that only publishes discovery and keys: the test
// signs the tokens it "sends" claim by claim.
type tokenOP struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer
}

func newTokenOP(t *testing.T) *tokenOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	op := &tokenOP{key: key, signer: signer}
	op.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": op.srv.URL, "authorization_endpoint": op.srv.URL + "/authorize",
				"token_endpoint": op.srv.URL + "/token", "jwks_uri": op.srv.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
		case "/keys":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(op.srv.Close)
	return op
}

func (op *tokenOP) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(claims)
	jws, err := op.signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testClock is a clock a test moves forward.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// TestUpstreamLogoutTokenReplayFollowsItsExpiry (review s4 F10): the jti replay guard of an
// upstream back-channel logout token lasted 24 hours whatever the token's exp, so a captured
// token valid for longer was accepted again a day later (and ended the sessions the upstream
// subject had opened since). The guard must last until the token expires.
func TestUpstreamLogoutTokenReplayFollowsItsExpiry(t *testing.T) {
	op := newTokenOP(t)
	clock := &testClock{}
	deps := envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ssobridge.db"), sqlite.WithClock(clock.now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}}
	e := newEnvDeps(t, false, nil, deps, func(c *bridge.Config) {
		c.UpstreamProviders = append(c.UpstreamProviders, upstream.ProviderConfig{Name: "corp", DisplayName: "Corp ID",
			Issuer: op.srv.URL, ClientID: "bridge", ClientSecret: "upstream-secret-0123456789abcdef"})
	})
	now := time.Now()
	token := op.sign(t, map[string]any{"iss": op.srv.URL, "aud": "bridge", "iat": now.Unix(), "exp": now.Add(72 * time.Hour).Unix(),
		"jti": "logout-1", "sub": "someone", "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
	post := func() (int, map[string]any) {
		resp, body := postForm(t, e.issuer+"/upstream/corp/backchannel-logout", map[string]string{"logout_token": token})
		return resp.StatusCode, body
	}
	if status, body := post(); status != http.StatusOK {
		t.Fatalf("first delivery: %d %v", status, body)
	}
	if status, _ := post(); status != http.StatusBadRequest {
		t.Fatalf("replayed at once: %d, want 400", status)
	}
	clock.advance(25 * time.Hour) // the token is valid for another 47 hours
	if status, body := post(); status != http.StatusBadRequest {
		t.Fatalf("replayed after 25 hours, while the token is still valid: %d %v, want 400 (used already)", status, body)
	}
}

// TestSAMLPostLogoutRequestEndsTheSession (review s5): an SP's single logout request with the
// HTTP-POST binding arrives as a cross-site POST, which carries no SameSite=Lax session cookie.
// The bridge answered it "logged out" (Success) and left the member's SSO session alive: on a
// shared computer the next person opening any app was signed in as the member who had just
// logged out. Now the browser posts the request again from the bridge's origin, with the cookie,
// and the session ends.
func TestSAMLPostLogoutRequestEndsTheSession(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	browser, acs, f := samlResponse(t, e, lms) // alice is signed in at the bridge and at lms
	resp, err := browser.PostForm(acs, f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sub := identitySubject(t, e, mustMember(t, e, "alice").Key)
	ctx := t.Context()
	if s, _ := e.store.Sessions(ctx, sub); len(s) != 1 {
		t.Fatalf("%d sessions after the SAML sign-in", len(s))
	}

	lms.mw.ServiceProvider.LogoutSignatureMethod = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" // enveloped signature
	page, err := lms.mw.ServiceProvider.MakePostLogoutRequest(sub, "back-to-lms")
	if err != nil {
		t.Fatal(err)
	}
	input := regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)"`)
	form := url.Values{}
	for _, m := range input.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("SAMLRequest") == "" {
		t.Fatalf("no LogoutRequest form: %s", page)
	}
	// The same request without its signature is refused, even with the session cookie.
	raw, err := base64.StdEncoding.DecodeString(form.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	unsigned := regexp.MustCompile(`(?s)<ds:Signature.*</ds:Signature>`).ReplaceAll(raw, nil)
	if bytes.Equal(unsigned, raw) {
		t.Fatalf("no enveloped signature in %s", raw)
	}
	resp, err = browser.PostForm(e.issuer+saml.PathSLO+"?resent=1", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(unsigned)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s, _ := e.store.Sessions(ctx, sub); resp.StatusCode != http.StatusBadRequest || len(s) != 1 {
		t.Fatalf("unsigned LogoutRequest: status %d, %d sessions", resp.StatusCode, len(s))
	}
	// The SP's page posts the form to the bridge: cross-site, so the browser sends no Lax cookie.
	crossSite := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = crossSite.PostForm(e.issuer+saml.PathSLO, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// A page that posts a form back to the bridge is same-origin: the browser posts it with its
	// cookies (each hop followed as a browser does, until the bridge sends it elsewhere).
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	action := regexp.MustCompile(`<form method="post" action="([^"]+)" id="saml-post">`)
	for hop := 0; hop < 3; hop++ {
		m := action.FindStringSubmatch(string(body))
		if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), "/") {
			break
		}
		again := url.Values{}
		for _, f := range input.FindAllStringSubmatch(string(body), -1) {
			again.Set(f[1], html.UnescapeString(f[2]))
		}
		resp, err = browser.PostForm(e.issuer+html.UnescapeString(m[1]), again)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if s, _ := e.store.Sessions(ctx, sub); len(s) != 0 {
		t.Fatalf("the SP's POST LogoutRequest was answered (status %d) but the member's SSO session lives on: %d sessions: %.3000s",
			resp.StatusCode, len(s), body)
	}
}

// samlSignInAs signs login in at sp over HTTP (an SP with HTTP-Redirect AuthnRequests) and
// returns the bridge's last page.
func samlSignInAs(t *testing.T, e *env, sp *samlSP, login, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	read := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	f := formFields(read(c.Get(sp.srv.URL + "/app")))
	if f.Get("csrf") == "" || f.Get("id") == "" {
		t.Fatal("no login page")
	}
	return read(c.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
		"login": {login}, "password": {password}}))
}

// TestSAMLEmailNameIDMustBeTheMembersOwn (review s5): for an SP that knows its users by e-mail
// address (name_id_format: email), the bridge asserted whatever address the member's AMS record
// holds. Members edit their own address in the AMS, and the AMS does not keep addresses unique:
// bob types alice's address into his record and is signed in to the SP as alice. An address
// that another AMS record also has is no longer sent as the NameID.
func TestSAMLEmailNameIDMustBeTheMembersOwn(t *testing.T) {
	sp := newSAMLSP(t)
	e := newEnv(t, func(c *bridge.Config) {
		cfg := sp.config("jobs", "Job Board")
		cfg.NameIDFormat = config.SAMLNameIDEmail
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{cfg}
		c.Policy.EmailVerified = true // name_id_format email needs it (X19-10)
	})
	sp.start(t, e, crewjam.HTTPRedirectBinding, "jobs_token")
	nameID := func(page string) string {
		t.Helper()
		resp := formFields(page).Get("SAMLResponse")
		if resp == "" {
			return ""
		}
		raw, err := base64.StdEncoding.DecodeString(resp)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`<saml:NameID[^>]*>([^<]*)</saml:NameID>`).FindStringSubmatch(string(raw))
		if m == nil {
			t.Fatalf("no NameID in %s", raw)
		}
		return m[1]
	}
	if got := nameID(samlSignInAs(t, e, sp, "bob", "bob-password")); got != "bob@example.org" {
		t.Fatalf("bob's NameID %q", got)
	}
	e.dir.Update("bob", func(m *legacy.Member) { m.Email = "Alice@example.org" })
	page := samlSignInAs(t, e, sp, "bob", "bob-password")
	if got := nameID(page); got != "" {
		t.Fatalf("bob, with alice's address in his AMS record, was asserted to the SP as %q", got)
	}
	if !strings.Contains(page, "not yours alone") {
		t.Fatalf("no clear page for bob: %.500s", page)
	}
	if got := nameID(samlSignInAs(t, e, sp, "alice", "alice-password")); got != "" {
		t.Fatalf("an address two AMS records share was asserted as %q", got)
	}
	e.dir.Update("bob", func(m *legacy.Member) { m.Email = "bob@example.org" })
	if got := nameID(samlSignInAs(t, e, sp, "alice", "alice-password")); got != "alice@example.org" {
		t.Fatalf("alice's NameID %q once the address is hers alone", got)
	}
}

// TestTOTPEnrolmentSecretStaysInItsBrowser (review s5): a pending authenticator-app secret was
// the member's, not the enrolling browser's: anyone reaching the enrolment step of the same
// member (someone with a phished password, at an app that requires a second factor) was shown
// the very secret the member would enrol next, and so held both factors. Each browser now gets
// its own secret; one begun elsewhere is never shown or confirmed here.
func TestTOTPEnrolmentSecretStaysInItsBrowser(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "other" {
				c.Clients[i].MFA = "required"
			}
		}
	})
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	enrolPage := func(b *bridgetest.Browser) (*bridgetest.Page, string) {
		t.Helper()
		p := mfaStep(t, e, b, other.AuthCodeURL("s", oidc.Nonce("n")))
		m := totpSecretRe.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no enrolment page: %d %.600s", p.Status, p.Body)
		}
		return p, m[1]
	}
	attacker, member := e.browser(), e.browser()
	atkPage, atkSecret := enrolPage(attacker) // the attacker stops at the QR code
	memPage, memSecret := enrolPage(member)
	if memSecret == atkSecret {
		t.Fatal("the member was shown the secret the other browser's enrolment began (the attacker holds it)")
	}
	// The attacker's secret was replaced by the member's enrolment: it confirms nothing. (Its
	// error page begins a fresh secret for the attacker's browser, which the member's page then
	// no longer confirms: an annoyance someone with the password can cause, not a leak.)
	if p := submitStep(attacker, e, atkPage, "enrol", totpCode(t, atkSecret, 0)); recoveryCodeRe.MatchString(p.Body) {
		t.Fatal("the attacker's replaced secret was confirmed")
	}
	memPage, memSecret = enrolPage(member)
	if memSecret == atkSecret {
		t.Fatal("the member was shown the secret another browser's enrolment began")
	}
	// Another browser cannot confirm the member's pending secret (were it known there).
	if p := submitStep(attacker, e, atkPage, "enrol", totpCode(t, memSecret, 0)); recoveryCodeRe.MatchString(p.Body) {
		t.Fatal("another browser confirmed the member's pending secret")
	}
	memPage, memSecret = enrolPage(member)
	if p := submitStep(member, e, memPage, "enrol", totpCode(t, memSecret, 0)); !recoveryCodeRe.MatchString(p.Body) {
		t.Fatalf("the member's own enrolment: %d %.500s", p.Status, p.Body)
	}
}
