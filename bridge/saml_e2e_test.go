package bridge_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/legacy"
)

// samlSP is a real SAML service provider (crewjam/saml's samlsp middleware) in an httptest
// server on 127.0.0.1: /app needs an account and shows the NameID and attributes it got,
// /logout starts SP-initiated single logout, / is where it lands after logging out.
type samlSP struct {
	srv     *httptest.Server
	key     *rsa.PrivateKey
	cert    *x509.Certificate
	mw      *samlsp.Middleware
	handler atomic.Pointer[http.ServeMux]
	// logoutBinding, when set, is the SP's only single logout binding (default HTTP-Redirect).
	logoutBinding string
}

func newSAMLSP(t *testing.T) *samlSP {
	t.Helper()
	sp := &samlSP{}
	sp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := sp.handler.Load(); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	t.Cleanup(sp.srv.Close)
	var err error
	sp.key = spKey(t) // distinct from the test's other SPs' (keys_shared_test.go)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &sp.key.PublicKey, sp.key)
	if err != nil {
		t.Fatal(err)
	}
	if sp.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return sp
}

func (sp *samlSP) entityID() string { return sp.srv.URL + "/saml/metadata" }

func (sp *samlSP) certPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sp.cert.Raw}))
}

// config is the SP as entered by hand in the bridge's configuration.
func (sp *samlSP) config(id, name string) config.SAMLServiceProvider {
	return config.SAMLServiceProvider{ID: id, Name: name, EntityID: sp.entityID(), ACSURLs: []string{sp.srv.URL + "/saml/acs"},
		SLOURL: sp.srv.URL + "/saml/slo", Certificate: sp.certPEM(), AuthnRequestsSigned: true}
}

// start builds the samlsp middleware from the bridge's IdP metadata (fetched from the bridge,
// as a vendor app would) and serves the app. binding is how it sends its AuthnRequests.
func (sp *samlSP) start(t *testing.T, e *env, binding, cookie string) {
	t.Helper()
	idpMD, err := samlsp.FetchMetadata(t.Context(), e.srv.Client(), mustURL(t, e.issuer+saml.PathMetadata))
	if err != nil {
		t.Fatalf("fetch IdP metadata: %v", err)
	}
	mw, err := samlsp.New(samlsp.Options{URL: mustURL(t, sp.srv.URL), Key: sp.key, Certificate: sp.cert, IDPMetadata: idpMD,
		SignRequest: true, AllowIDPInitiated: true, DefaultRedirectURI: "/app", CookieName: cookie,
		LogoutBindings: []string{cmp.Or(sp.logoutBinding, crewjam.HTTPRedirectBinding)}})
	if err != nil {
		t.Fatal(err)
	}
	mw.Binding, mw.LogoutBinding = binding, sp.logoutBinding
	// samlsp asks for a transient NameID by default, and the bridge honours the NameIDPolicy
	// (a fresh identifier at each sign-in): these SPs take whatever the IdP issues them
	// (persistent, or e-mail for "events"), as the tests check.
	mw.ServiceProvider.AuthnNameIDFormat = crewjam.UnspecifiedNameIDFormat
	sp.mw = mw
	mux := http.NewServeMux()
	mux.Handle("/saml/", mw)
	mux.Handle("/app", mw.RequireAccount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := samlsp.SessionFromContext(r.Context())
		claims, _ := s.(samlsp.JWTSessionClaims)
		var attrs []string
		for k, v := range claims.Attributes {
			attrs = append(attrs, k+"="+strings.Join(v, ","))
		}
		sort.Strings(attrs)
		fmt.Fprintf(w, "<!doctype html><title>sp</title><p id=who>%s</p><p id=attrs>%s</p>", html.EscapeString(claims.Subject),
			html.EscapeString(strings.Join(attrs, ";")))
	})))
	mux.HandleFunc("/logout", mw.HandleStartLogout)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><title>sp home</title><p id=home>signed out of the app</p>")
	})
	sp.handler.Store(mux)
}

func mustURL(t *testing.T, s string) url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return *u
}

// samlEnv: the bridge with two SAML SPs and an OIDC app. "lms" (entered in the configuration,
// HTTP-Redirect AuthnRequests) is members-only and sees only the Member role; "events"
// (registered from its metadata, HTTP-POST AuthnRequests) has no access rule and sees every
// role, and gets the member's e-mail address as NameID.
func samlEnv(t *testing.T, mutate ...func(*bridge.Config)) (*env, *samlSP, *samlSP, *relyingParty) {
	lms, events := newSAMLSP(t), newSAMLSP(t)
	rp, addClient := newRelyingParty(t)
	e := newEnv(t, append([]func(*bridge.Config){addClient, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
		c.Policy.EmailVerified = true // events' name_id_format email needs it (X19-10)
		c.Policy.Policies = map[string]policy.ClientPolicy{
			"lms": {AccessRule: `member.is_current`, AllowedRoles: []string{"Member"}},
		}
	}}, mutate...)...)
	rp.connect(e)
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	events.start(t, e, crewjam.HTTPPostBinding, "events_token")
	raw, err := xml.Marshal(events.mw.ServiceProvider.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := saml.NewRegistry(config.SAMLConfig{}, e.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.EmailVerified = true // registered as under a configuration with email_verified: true
	if _, err := reg.Register(t.Context(), config.SAMLServiceProvider{ID: "events", Name: "Events Hub", NameIDFormat: "email"}, raw, time.Now()); err != nil {
		t.Fatalf("register events SP: %v", err)
	}
	e.dir.Update("alice", func(m *legacy.Member) { m.Roles = []string{"Member", "Volunteer"} })
	return e, lms, events, rp
}

// shows waits for one of the selectors and returns the first that is visible.
func shows(t *testing.T, ctx context.Context, sels ...string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(strings.Join(sels, ", ")))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("body")))
		t.Fatalf("none of %v at %s: %v\n%.1500s", sels, loc, err, body)
	}
	for _, s := range sels {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", s)))
		if err == nil && n > 0 {
			return s
		}
	}
	t.Fatalf("none of %v", sels)
	return ""
}

func signInAt(t *testing.T, ctx context.Context, login, password string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#login"), login), chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css("button[type=submit].primary"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

// reaches waits until the browser is at path (a page that goes on by itself; 30 s is a liveness
// bound, not a timing assertion).
func reaches(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	var loc string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		l, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			continue
		}
		if loc = l; strings.HasSuffix(strings.SplitN(l, "?", 2)[0], path) {
			return
		}
	}
	t.Fatalf("never reached %s (at %s)", path, loc)
}

// TestSAMLBrowser drives two real SAML SPs (samlsp) and an OIDC app through Chromium:
// SP-initiated sign-in with the HTTP-Redirect and HTTP-POST bindings, attributes and roles per
// SP, single sign-on between the SAML and OIDC apps both ways, single logout started at the
// bridge and at an SP, IdP-initiated sign-in from the account page, and a lapsed member
// refused by a members-only SP.
func TestSAMLBrowser(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e, lms, events, rp := samlEnv(t)
	ctx := chrome(t, 3*time.Minute)

	// SP-initiated, HTTP-Redirect binding: the bridge's login page, then the app.
	if err := chromedp.Do(ctx, chromedp.Navigate(lms.srv.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#login")
	title, _ := chromedp.Run(ctx, chromedp.Title())
	signInAt(t, ctx, "alice", "alice-password")
	shows(t, ctx, "#who")
	subject, attrs := text(t, ctx, "#who"), text(t, ctx, "#attrs")
	if !strings.Contains(title, "Sign in") || len(subject) != 40 {
		t.Fatalf("login title %q, NameID %q", title, subject)
	}
	for _, want := range []string{"name=Alice Archer", "email=alice@example.org", "roles=Member;", "membership_standing=current"} {
		if !strings.Contains(attrs+";", want) {
			t.Errorf("lms attributes %q lack %q", attrs, want)
		}
	}

	// SSO into the second SP (HTTP-POST AuthnRequests, registered from metadata): no login page;
	// its own NameID (e-mail) and roles (every role: no allowed_roles).
	if err := chromedp.Do(ctx, chromedp.Navigate(events.srv.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#who")
	if who, a := text(t, ctx, "#who"), text(t, ctx, "#attrs"); who != "alice@example.org" || !strings.Contains(a, "roles=Member,Volunteer") {
		t.Fatalf("events SP: NameID %q attributes %q", who, a)
	}

	// From the SAML session into the OIDC app: straight through, the same subject.
	if err := chromedp.Do(ctx, chromedp.Navigate(rp.srv.URL+"/start")); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#result")
	if r := text(t, ctx, "#result"); !strings.Contains(r, "("+subject+")") {
		t.Fatalf("OIDC app after SAML sign-in: %q, want subject %s", r, subject)
	}

	// Single logout started at the bridge: the signed-out page sends both SPs a LogoutRequest in
	// frames, and goes on once they have loaded; afterwards each SP asks for a sign-in again
	// (their sessions and the bridge's ended).
	if err := chromedp.Do(ctx, chromedp.Navigate(e.issuer+"/logout"), chromedp.Click(css("button[type=submit].primary"))); err != nil {
		t.Fatal(err)
	}
	reaches(t, ctx, "/logout/done")
	for _, sp := range []*samlSP{lms, events} {
		if err := chromedp.Do(ctx, chromedp.Navigate(sp.srv.URL+"/app")); err != nil {
			t.Fatal(err)
		}
		if got := shows(t, ctx, "#login", "#who"); got != "#login" {
			t.Fatalf("after single logout, %s still signed in", sp.srv.URL)
		}
	}

	// A lapsed member is refused by the members-only SP, with the clear page.
	lapse(e, "alice")
	if err := chromedp.Do(ctx, chromedp.Navigate(lms.srv.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#login")
	signInAt(t, ctx, "alice", "alice-password")
	if got := shows(t, ctx, "p.lead[role=alert]", "#who", "#login-error"); got != "p.lead[role=alert]" {
		body, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("body")))
		t.Fatalf("lapsed member at lms: %s\n%.2000s", got, body)
	}
	if h := text(t, ctx, "h1"); h != "This app is not available with your membership" {
		t.Fatalf("lapsed member at lms: %q", h)
	}
	e.dir.Update("alice", func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, 6, 0) })

	// IdP-initiated: the account page links each SP; the link signs the member in there.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.issuer+"/account")); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#launch")
	if err := chromedp.Do(ctx, chromedp.Click(css(`#launch a[href="/saml/start/lms"]`))); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#who")
	if who := text(t, ctx, "#who"); who != subject {
		t.Fatalf("IdP-initiated NameID %q, want %q", who, subject)
	}

	// Single logout started at an SP: the bridge session ends (the OIDC app asks for a sign-in
	// again), the other SP gets its LogoutRequest, the SP its LogoutResponse.
	if err := chromedp.Do(ctx, chromedp.Navigate(events.srv.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#who")
	if err := chromedp.Do(ctx, chromedp.Navigate(lms.srv.URL+"/logout")); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#home")
	for _, u := range []string{events.srv.URL + "/app", rp.srv.URL + "/start", lms.srv.URL + "/app"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
		if got := shows(t, ctx, "#login", "#who", "#result"); got != "#login" {
			t.Fatalf("after SP-initiated logout, %s did not ask for a sign-in (%s)", u, got)
		}
	}
}

var formField = regexp.MustCompile(`<input type="hidden" name="([A-Za-z_]+)" value="([^"]*)">`)

func formFields(body string) url.Values {
	v := url.Values{}
	for _, m := range formField.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// samlResponse signs in at the SP over HTTP and returns the client, the ACS URL and the posted
// form (not yet sent).
func samlResponse(t *testing.T, e *env, sp *samlSP) (*http.Client, string, url.Values) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	_, body := get(c.Get(sp.srv.URL + "/app"))
	f := formFields(body)
	if f.Get("csrf") == "" || f.Get("id") == "" {
		t.Fatalf("no login page: %.800s", body)
	}
	_, body = get(c.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}}))
	f = formFields(body)
	m := regexp.MustCompile(`<form method="post" action="([^"]+)" id="saml-post">`).FindStringSubmatch(body)
	if m == nil || f.Get("SAMLResponse") == "" {
		t.Fatalf("no SAML response form: %.800s", body)
	}
	return c, html.UnescapeString(m[1]), f
}

// TestSAMLResponseTamperedAndReplayed: the SP (samlsp) refuses a response whose signed
// content was changed, and a response posted a second time.
func TestSAMLResponseTamperedAndReplayed(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	post := func(c *http.Client, acs string, f url.Values) int {
		t.Helper()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.PostForm(acs, f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	c, acs, f := samlResponse(t, e, lms)
	xmlDoc, err := base64.StdEncoding.DecodeString(f.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(xmlDoc, []byte(">"+saml.ClassPassword+"<")) {
		t.Fatalf("a password sign-in's assertion does not say %s", saml.ClassPassword)
	}
	if !bytes.Contains(xmlDoc, []byte(">Member<")) {
		t.Fatalf("response has no Member role: %s", xmlDoc)
	}
	tampered := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(bytes.Replace(xmlDoc, []byte(">Member<"), []byte(">SysAdmin<"), 1))},
		"RelayState": {f.Get("RelayState")}}
	if got := post(c, acs, tampered); got == http.StatusFound {
		t.Fatalf("tampered response accepted (status %d)", got)
	}

	c, acs, f = samlResponse(t, e, lms)
	if got := post(c, acs, f); got != http.StatusFound {
		t.Fatalf("genuine response: status %d", got)
	}
	if got := post(c, acs, f); got == http.StatusFound {
		t.Fatalf("replayed response accepted (status %d)", got)
	}
}
