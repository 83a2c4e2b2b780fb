package sim_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis/sim"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
)

// fakeDir is an in-test legacy.Authenticator: login (case-insensitive) -> password -> member.
// It answers as the real directories do (legacy/directorytest): a refusal the AMS gives before
// comparing any password (legacy.Standing.BeforePassword: locked out, not approved) whatever
// the password, the other statuses only after the right one.
type fakeDir map[string]fakeEntry

type fakeEntry struct {
	password string
	member   *legacy.Member
	err      error // returned after the password verified
}

func (d fakeDir) Authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	if login == "outage" {
		return nil, legacy.Unavailable("fake directory", errors.New("connection refused"))
	}
	e, ok := d[strings.ToLower(login)]
	if ok {
		if err := e.member.Standing.BeforePassword(); err != nil {
			return nil, err
		}
	}
	if !ok || e.password != password {
		return nil, legacy.ErrBadCredentials
	}
	if e.err != nil {
		return nil, e.err
	}
	m := *e.member
	return &m, nil
}

var testDir = fakeDir{
	"jsmith": {password: "Pa55word!", member: &legacy.Member{Login: "JSmith", FullName: "Jane Smith", Standing: legacy.Standing{Approved: true}}},
	"locked": {password: "Pa55word!", member: &legacy.Member{Login: "locked", Standing: legacy.Standing{Approved: true, LockedOut: true}}},
}

const (
	clientID     = "member-portal"
	clientSecret = "portal-secret-0123456789"
	otherID      = "other-app"
	otherSecret  = "other-secret-0123456789"
	base         = "/demo-ams"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a test site: the simulator under base, and a hand-off endpoint (/handoff/imis) that
// plays the bridge: it exchanges the posted refresh_token with token.
type env struct {
	srv   *httptest.Server
	sim   *sim.Simulator
	clk   *clock
	ams   *token.Client
	other *token.Client
}

func newEnv(t *testing.T, basePath string, mutate ...func(*sim.Config)) *env {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, clk: &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}}
	cfg := sim.Config{
		BasePath:      basePath,
		SiteName:      "Test Association",
		Authenticator: testDir,
		Clients: []sim.ClientApp{
			{ClientID: clientID, ClientSecret: clientSecret, LoginRedirectURL: srv.URL + "/handoff/imis", Name: "Member Portal", RefreshTokenLifetime: 10 * time.Minute},
			{ClientID: otherID, ClientSecret: otherSecret, LoginRedirectURL: "https://other.example.org/sso"},
		},
		AllowedReturnOrigins: []string{"https://allowed.example.org"},
		LoginHint:            "Demo accounts: jsmith / Pa55word!",
		Now:                  e.clk.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	e.sim = sim.New(cfg)
	mux.Handle(basePath+"/", e.sim)
	var err error
	e.ams, err = token.New(token.Config{BaseURL: srv.URL + basePath, ClientID: clientID, ClientSecret: clientSecret, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.other, err = token.New(token.Config{BaseURL: srv.URL + basePath, ClientID: otherID, ClientSecret: otherSecret, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("POST /handoff/imis", func(w http.ResponseWriter, r *http.Request) {
		tok, err := e.ams.RefreshGrant(r.Context(), r.PostFormValue("refresh_token"))
		if err != nil {
			http.Error(w, "hand-off failed: "+legacy.Reason(err), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "bridge: signed in as "+tok.UserName)
	})
	mux.HandleFunc("GET /after-logout", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bridge: logged out") })
	return e
}

// browser is a cookie-keeping client that does not follow redirects by itself.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type result struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, c *http.Client, method, rawURL string, form url.Values, hdr ...string) result {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, string(b), resp.Header}
}

var (
	formActionRE = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
	inputRE      = func(name string) *regexp.Regexp {
		return regexp.MustCompile(`<input type="hidden" name="` + regexp.QuoteMeta(name) + `" value="([^"]*)">`)
	}
)

func formAction(t *testing.T, body string) string {
	t.Helper()
	m := formActionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form in\n%s", body)
	}
	return html.UnescapeString(m[1])
}

func hidden(body, name string) string {
	m := inputRE(name).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// signIn logs a browser in through the login form, following ReturnUrl; it returns the
// final redirect target.
func (e *env) signIn(t *testing.T, c *http.Client, loginPageURL, user, password string) result {
	t.Helper()
	page := do(t, c, "GET", loginPageURL, nil)
	if page.status != 200 {
		t.Fatalf("login page: %d", page.status)
	}
	form := url.Values{
		"__RequestVerificationToken": {hidden(page.body, "__RequestVerificationToken")},
		"username":                   {user},
		"password":                   {password},
	}
	if ret := hidden(page.body, "ReturnUrl"); ret != "" {
		form.Set("ReturnUrl", ret)
	}
	return do(t, c, "POST", e.srv.URL+formAction(t, page.body), form)
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestSSOHandOffEndToEnd(t *testing.T) {
	e := newEnv(t, base)
	b := browser(t)
	ssoURL := e.srv.URL + base + "/sso?client=" + clientID

	// Not signed in: the SSO page sends the member to the login page and back.
	r := do(t, b, "GET", ssoURL, nil)
	if r.status != http.StatusFound {
		t.Fatalf("sso before login: %d", r.status)
	}
	loginURL, _ := url.Parse(r.header.Get("Location"))
	if loginURL.Path != base+sim.LoginPath || loginURL.Query().Get("ReturnUrl") != base+"/sso?client="+clientID {
		t.Fatalf("redirected to %s", loginURL)
	}

	// Sign in.
	page := do(t, b, "GET", e.srv.URL+loginURL.String(), nil)
	for _, want := range []string{`<label for="username">`, `<label for="password">`, `name="viewport"`, `action="` + base + sim.LoginPath + `"`, "Demo accounts: jsmith"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	r = e.signIn(t, b, e.srv.URL+loginURL.String(), "jsmith", "Pa55word!")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != base+"/sso?client="+clientID {
		t.Fatalf("login: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{"Login=", "Path=" + base, "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("session cookie %q lacks %q", sc, want)
		}
	}

	// The SSO page auto-posts a fresh refresh token to the Login redirect URL.
	r = do(t, b, "GET", ssoURL, nil)
	if r.status != 200 {
		t.Fatalf("sso: %d", r.status)
	}
	action, rt := formAction(t, r.body), hidden(r.body, "refresh_token")
	if action != e.srv.URL+"/handoff/imis" || !hex32.MatchString(rt) {
		t.Fatalf("sso form: action %q token %q", action, rt)
	}
	if !strings.Contains(r.body, "<noscript><button type=\"submit\">") || !strings.Contains(r.body, ".submit()") {
		t.Error("sso page lacks the auto-submit script or the noscript button")
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'nonce-") || strings.Contains(csp, "form-action") {
		t.Errorf("CSP %q", csp)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("sso page is cacheable")
	}

	// The "browser" submits the form: the bridge exchanges the token with token.
	r = do(t, b, "POST", action, url.Values{"refresh_token": {rt}})
	if r.body != "bridge: signed in as JSmith" {
		t.Fatalf("hand-off: %d %q", r.status, r.body)
	}
	// Single use.
	if _, err := e.ams.RefreshGrant(context.Background(), rt); !errors.Is(err, token.ErrInvalidGrant) {
		t.Fatalf("second use: %v", err)
	}

	// Home shows who is signed in and the apps.
	r = do(t, b, "GET", e.srv.URL+base+"/", nil)
	if !strings.Contains(r.body, "Jane Smith") || !strings.Contains(r.body, "JSmith") || !strings.Contains(r.body, "Member Portal") ||
		!strings.Contains(r.body, base+sim.LogoutPath) {
		t.Errorf("home:\n%s", r.body)
	}

	// Logout back to the bridge (the origin of a Login redirect URL is allowed).
	r = do(t, b, "GET", e.srv.URL+e.sim.LogoutURL(e.srv.URL+"/after-logout"), nil)
	if r.status != http.StatusFound || r.header.Get("Location") != e.srv.URL+"/after-logout" {
		t.Fatalf("logout: %d %q", r.status, r.header.Get("Location"))
	}
	if r = do(t, b, "GET", ssoURL, nil); r.status != http.StatusFound {
		t.Errorf("sso after logout: %d", r.status)
	}
}

func TestSessionCookieReplayAfterLogout(t *testing.T) {
	e := newEnv(t, base)
	cookie, err := e.sim.NewSessionCookie("jsmith")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *http.Response {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		e.sim.ServeHTTP(rec, req)
		return rec.Result()
	}
	req := httptest.NewRequest("GET", base+"/", nil)
	req.AddCookie(cookie)
	if login, ok := e.sim.SignedIn(req); !ok || login != "jsmith" {
		t.Fatalf("SignedIn = %q %v", login, ok)
	}
	if resp := get(base + "/sso"); resp.StatusCode != 200 {
		t.Fatalf("sso: %d", resp.StatusCode)
	}
	get(base + sim.LogoutPath)
	if resp := get(base + "/sso"); resp.StatusCode != http.StatusFound {
		t.Errorf("the server-side session survived logout: %d", resp.StatusCode)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, base, func(c *sim.Config) { c.SessionLifetime = 5 * time.Minute })
	b := browser(t)
	e.signIn(t, b, e.srv.URL+e.sim.LoginURL(""), "jsmith", "Pa55word!")
	if r := do(t, b, "GET", e.srv.URL+e.sim.SSOURL(""), nil); r.status != 200 {
		t.Fatalf("sso: %d", r.status)
	}
	e.clk.Advance(5 * time.Minute)
	if r := do(t, b, "GET", e.srv.URL+e.sim.SSOURL(""), nil); r.status != http.StatusFound {
		t.Fatalf("sso after the session expired: %d", r.status)
	}
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, base)
	ctx := context.Background()

	t.Run("refresh grant rotates, and each token is single-use", func(t *testing.T) {
		rt, err := e.sim.IssueRefreshToken("JSmith", clientID)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.ams.RefreshGrant(ctx, rt)
		if err != nil {
			t.Fatal(err)
		}
		if tok.UserName != "JSmith" || tok.TokenType != "bearer" || tok.AccessToken == "" || !hex32.MatchString(tok.RefreshToken) ||
			tok.ExpiresIn != 1199*time.Second || !tok.Issued.Equal(e.clk.Now()) || !tok.Expires.Equal(e.clk.Now().Add(20*time.Minute)) {
			t.Errorf("token %v issued %v expires %v", tok, tok.Issued, tok.Expires)
		}
		tok2, err := e.ams.RefreshGrant(ctx, tok.RefreshToken)
		if err != nil || tok2.UserName != "JSmith" {
			t.Fatalf("rotated token: %v %v", tok2, err)
		}
		for _, used := range []string{rt, tok.RefreshToken} {
			if _, err := e.ams.RefreshGrant(ctx, used); !errors.Is(err, token.ErrInvalidGrant) {
				t.Errorf("reuse: %v", err)
			}
		}
	})
	t.Run("expired refresh token", func(t *testing.T) {
		rt, _ := e.sim.IssueRefreshToken("JSmith", clientID)
		e.clk.Advance(10 * time.Minute) // the client's lifetime
		_, err := e.ams.RefreshGrant(ctx, rt)
		if !errors.Is(err, token.ErrInvalidGrant) || !strings.Contains(err.Error(), "invalid or has expired") {
			t.Fatalf("expired: %v", err)
		}
	})
	t.Run("another client's token", func(t *testing.T) {
		rt, _ := e.sim.IssueRefreshToken("JSmith", otherID)
		if _, err := e.ams.RefreshGrant(ctx, rt); !errors.Is(err, token.ErrInvalidGrant) {
			t.Fatalf("cross-client: %v", err)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		bad, _ := token.New(token.Config{BaseURL: e.srv.URL + base, ClientID: clientID, ClientSecret: "wrong"})
		rt, _ := e.sim.IssueRefreshToken("JSmith", clientID)
		_, err := bad.RefreshGrant(ctx, rt)
		if !errors.Is(err, token.ErrInvalidClient) {
			t.Fatalf("wrong secret: %v", err)
		}
		// The client was checked first: the token is still good.
		if _, err := e.ams.RefreshGrant(ctx, rt); err != nil {
			t.Fatalf("token after a client failure: %v", err)
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		bad, _ := token.New(token.Config{BaseURL: e.srv.URL + base, ClientID: "nobody", ClientSecret: clientSecret})
		if _, err := bad.RefreshGrant(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, token.ErrInvalidClient) {
			t.Fatalf("unknown client: %v", err)
		}
	})
	t.Run("password grant", func(t *testing.T) {
		tok, err := e.ams.PasswordGrant(ctx, "jsmith", "Pa55word!")
		if err != nil || tok.UserName != "JSmith" || tok.RefreshToken != "" {
			t.Fatalf("password grant: %v %v", tok, err)
		}
		// A locked-out account gets the wrong password's answer, with the right password or not:
		// iMIS's membership provider says no before it compares the password (imis.md §3).
		for _, creds := range [][2]string{{"jsmith", "wrong"}, {"nobody", "Pa55word!"}, {"locked", "Pa55word!"}, {"locked", "wrong"}} {
			_, err := e.ams.PasswordGrant(ctx, creds[0], creds[1])
			var ae *token.Error
			if !errors.Is(err, token.ErrInvalidGrant) || !errors.As(err, &ae) || ae.Description != "The user name or password is incorrect." {
				t.Errorf("%v: %v", creds, err)
			}
		}
		if _, err := e.ams.PasswordGrant(ctx, "outage", "x"); !errors.Is(err, legacy.ErrUnavailable) {
			t.Errorf("outage: %v", err)
		}
	})
	t.Run("raw protocol errors", func(t *testing.T) {
		tokenURL := e.srv.URL + base + "/Token" // case-insensitive, like IIS
		c := &http.Client{}
		for _, tc := range []struct {
			name, method, ctype, body string
			basicUser, basicPass      string
			status                    int
			want                      string
		}{
			{"GET", "GET", "", "", "", "", 405, `"invalid_request"`},
			{"JSON body", "POST", "application/json", `{"grant_type":"password"}`, "", "", 400, `"invalid_request"`},
			{"no grant_type", "POST", "application/x-www-form-urlencoded", "a=b", "", "", 400, `"invalid_request"`},
			{"client_credentials", "POST", "application/x-www-form-urlencoded", "grant_type=client_credentials", "", "", 400, `"unsupported_grant_type"`},
			{"refresh without client", "POST", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x", "", "", 400, `"invalid_client"`},
			{"basic auth client, bad token", "POST", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x", clientID, clientSecret, 400, `"invalid_grant"`},
			{"basic auth, wrong secret", "POST", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x", clientID, "nope", 400, `"invalid_client"`},
		} {
			req, _ := http.NewRequest(tc.method, tokenURL, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.basicUser != "" {
				req.SetBasicAuth(tc.basicUser, tc.basicPass)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) || !strings.Contains(string(b), `"error_description"`) ||
				resp.Header.Get("Content-Type") != "application/json;charset=UTF-8" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d %s %v", tc.name, resp.StatusCode, b, resp.Header)
			}
		}
	})
	t.Run("unknown client for IssueRefreshToken", func(t *testing.T) {
		if _, err := e.sim.IssueRefreshToken("jsmith", "nope"); err == nil {
			t.Error("no error")
		}
	})
}

func TestFaults(t *testing.T) {
	e := newEnv(t, base)
	ctx := context.Background()
	rt, _ := e.sim.IssueRefreshToken("JSmith", clientID)
	// The timeout case needs a client that gives up long before the server answers; the others
	// a client that waits for the answer however loaded the machine is (with the short timeout,
	// a loaded machine turned a 500 or a hang-up into a timeout).
	quick, _ := token.New(token.Config{BaseURL: e.srv.URL + base, ClientID: clientID, ClientSecret: clientSecret, Timeout: 100 * time.Millisecond})
	patient, _ := token.New(token.Config{BaseURL: e.srv.URL + base, ClientID: clientID, ClientSecret: clientSecret, Timeout: time.Minute})
	for _, tc := range []struct {
		name   string
		faults sim.Faults
		client *token.Client
		want   string
	}{
		{"delay beyond the timeout", sim.Faults{Delay: 2 * time.Second}, quick, "Timeout"},
		{"status 500", sim.Faults{Status: 500}, patient, "HTTP 500"},
		{"status 503", sim.Faults{Status: 503}, patient, "HTTP 503"},
		{"garbage", sim.Faults{Garbage: true}, patient, "not a JSON object"},
		{"hang up", sim.Faults{HangUp: true}, patient, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.sim.SetFaults(tc.faults)
			_, err := tc.client.RefreshGrant(ctx, rt)
			if !errors.Is(err, legacy.ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), rt) || strings.Contains(err.Error(), clientSecret) {
				t.Errorf("secret in %v", err)
			}
		})
	}
	e.sim.SetFaults(sim.Faults{})
	// Faults strike before the token is looked at: it is still valid.
	if tok, err := e.ams.RefreshGrant(ctx, rt); err != nil || tok.UserName != "JSmith" {
		t.Fatalf("after healing: %v %v", tok, err)
	}
	e.sim.SetFaults(sim.Faults{Delay: 50 * time.Millisecond})
	if _, err := e.ams.PasswordGrant(ctx, "jsmith", "Pa55word!"); err != nil {
		t.Fatalf("a short delay: %v", err)
	}
}

func TestLoginForm(t *testing.T) {
	e := newEnv(t, base)
	loginURL := e.srv.URL + base + sim.LoginPath

	t.Run("CSRF: no token", func(t *testing.T) {
		b := browser(t)
		r := do(t, b, "POST", loginURL, url.Values{"username": {"jsmith"}, "password": {"Pa55word!"}})
		if r.status != http.StatusForbidden || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
	t.Run("CSRF: token from another visitor", func(t *testing.T) {
		attacker := browser(t)
		page := do(t, attacker, "GET", loginURL, nil)
		victim := browser(t)
		do(t, victim, "GET", loginURL, nil) // the victim has a token cookie of her own
		r := do(t, victim, "POST", loginURL, url.Values{"__RequestVerificationToken": {hidden(page.body, "__RequestVerificationToken")},
			"username": {"jsmith"}, "password": {"Pa55word!"}})
		if r.status != http.StatusForbidden {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("CSRF: cross-site fetch metadata", func(t *testing.T) {
		b := browser(t)
		page := do(t, b, "GET", loginURL, nil)
		r := do(t, b, "POST", loginURL, url.Values{"__RequestVerificationToken": {hidden(page.body, "__RequestVerificationToken")},
			"username": {"jsmith"}, "password": {"Pa55word!"}}, "Sec-Fetch-Site", "cross-site")
		if r.status != http.StatusForbidden {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("CSRF cookie attributes", func(t *testing.T) {
		r := do(t, browser(t), "GET", loginURL, nil)
		sc := r.header.Get("Set-Cookie")
		for _, want := range []string{"__RequestVerificationToken=", "HttpOnly", "SameSite=Strict", "Path=" + base} {
			if !strings.Contains(sc, want) {
				t.Errorf("%q lacks %q", sc, want)
			}
		}
	})
	for _, tc := range []struct {
		name, user, password string
		status               int
		want                 string
	}{
		{"wrong password", "jsmith", "nope", 200, "The user name or password is incorrect."},
		{"unknown login", "nobody", "nope", 200, "The user name or password is incorrect."},
		{"empty", "", "", 200, "Enter your user name and password."},
		{"locked out", "locked", "Pa55word!", 200, "locked out"},
		// Whatever the password, as iMIS refuses a locked-out account before comparing it.
		{"locked out, wrong password", "locked", "nope", 200, "locked out"},
		{"directory down", "outage", "x", 503, "unavailable"},
		{"HTML in the login is escaped", `<script>alert(1)</script>`, "x", 200, "&lt;script&gt;alert(1)&lt;/script&gt;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := browser(t)
			r := e.signIn(t, b, loginURL, tc.user, tc.password)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Fatalf("%d\n%s", r.status, r.body)
			}
			if strings.Contains(r.header.Get("Set-Cookie"), "Login=") {
				t.Error("session cookie set")
			}
		})
	}
	t.Run("ReturnUrl must be local", func(t *testing.T) {
		for _, ret := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "/other/path", base + "/../x", base + "x/y"} {
			r := e.signIn(t, browser(t), loginURL+"?ReturnUrl="+url.QueryEscape(ret), "jsmith", "Pa55word!")
			if r.status != http.StatusSeeOther || r.header.Get("Location") != base+"/" {
				t.Errorf("ReturnUrl %q: %d to %q", ret, r.status, r.header.Get("Location"))
			}
		}
		r := e.signIn(t, browser(t), loginURL+"?returnurl="+url.QueryEscape(base+"/sso?client="+otherID), "jsmith", "Pa55word!")
		if r.header.Get("Location") != base+"/sso?client="+otherID {
			t.Errorf("local ReturnUrl: %q", r.header.Get("Location"))
		}
	})
}

func TestLogout(t *testing.T) {
	e := newEnv(t, base)
	for _, tc := range []struct {
		name, query string
		location    string // "" = no redirect, the signed-out page
	}{
		{"allowed origin", "?returnurl=" + url.QueryEscape("https://allowed.example.org/bye?x=1"), "https://allowed.example.org/bye?x=1"},
		{"allowed origin, default port, upper case", "?ReturnUrl=" + url.QueryEscape("https://ALLOWED.example.org:443/"), "https://ALLOWED.example.org:443/"},
		{"client's origin", "?returnurl=" + url.QueryEscape(e.srv.URL+"/after-logout"), e.srv.URL + "/after-logout"},
		{"local path", "?returnurl=" + url.QueryEscape(base+"/"), base + "/"},
		{"disallowed origin", "?returnurl=" + url.QueryEscape("https://evil.example.org/"), ""},
		{"other port", "?returnurl=" + url.QueryEscape("https://allowed.example.org:8443/"), ""},
		{"scheme-relative", "?returnurl=" + url.QueryEscape("//evil.example.org/"), ""},
		{"javascript", "?returnurl=" + url.QueryEscape("javascript:alert(1)"), ""},
		{"none", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := browser(t)
			e.signIn(t, b, e.srv.URL+e.sim.LoginURL(""), "jsmith", "Pa55word!")
			r := do(t, b, "GET", e.srv.URL+base+sim.LogoutPath+tc.query, nil)
			if tc.location != "" {
				if r.status != http.StatusFound || r.header.Get("Location") != tc.location {
					t.Fatalf("%d to %q", r.status, r.header.Get("Location"))
				}
			} else if r.status != 200 || r.header.Get("Location") != "" || !strings.Contains(r.body, "You have signed out.") {
				t.Fatalf("%d to %q\n%s", r.status, r.header.Get("Location"), r.body)
			}
			if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Login=;") || !strings.Contains(sc, "Max-Age=0") {
				t.Errorf("session cookie not cleared: %q", sc)
			}
			if r := do(t, b, "GET", e.srv.URL+base+"/", nil); strings.Contains(r.body, "Jane Smith") {
				t.Error("still signed in")
			}
		})
	}
}

func TestRoutingAndPages(t *testing.T) {
	e := newEnv(t, base)
	b := browser(t)
	for _, tc := range []struct {
		method, path string
		status       int
		location     string
	}{
		{"GET", base + "/", 200, ""},
		{"GET", base + "/asicommon/controls/shared/formsauthentication/LOGIN.ASPX", 200, ""},
		{"GET", base + "/AsiCommon/Controls/Shared/FormsAuthentication/Logout.aspx", 200, ""},
		{"GET", base + "/nope", 404, ""},
		{"GET", base + "x/", 404, ""},
		{"GET", base + "/sso?client=nope", 404, ""},
		{"GET", base + "/sso", http.StatusFound, base + sim.LoginPath + "?ReturnUrl=%2Fdemo-ams%2Fsso"},
		{"POST", base + "/sso", 405, ""},
		{"DELETE", base + sim.LoginPath, 405, ""},
	} {
		r := do(t, b, tc.method, e.srv.URL+tc.path, nil)
		if r.status != tc.status || r.header.Get("Location") != tc.location {
			t.Errorf("%s %s: %d %q", tc.method, tc.path, r.status, r.header.Get("Location"))
		}
	}
	rec := httptest.NewRecorder()
	e.sim.ServeHTTP(rec, httptest.NewRequest("GET", base, nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != base+"/" {
		t.Errorf("GET %s: %d %q", base, rec.Code, rec.Header().Get("Location"))
	}
	r := do(t, b, "GET", e.srv.URL+base+"/", nil)
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"} {
		if r.header.Get(h) != want {
			t.Errorf("%s = %q", h, r.header.Get(h))
		}
	}
	if strings.Contains(r.body, "http://") && !strings.Contains(r.body, e.srv.URL) || strings.Contains(r.body, "src=\"http") {
		t.Error("external assets on the page")
	}
	// Default client: the first one.
	e.signIn(t, b, e.srv.URL+e.sim.LoginURL(""), "jsmith", "Pa55word!")
	r = do(t, b, "GET", e.srv.URL+base+"/sso", nil)
	if formAction(t, r.body) != e.srv.URL+"/handoff/imis" {
		t.Errorf("default client: %s", formAction(t, r.body))
	}
	r = do(t, b, "GET", e.srv.URL+base+"/sso?client="+otherID, nil)
	if formAction(t, r.body) != "https://other.example.org/sso" {
		t.Errorf("other client: %s", formAction(t, r.body))
	}
}

func TestMountedAtRoot(t *testing.T) {
	e := newEnv(t, "")
	b := browser(t)
	r := e.signIn(t, b, e.srv.URL+sim.LoginPath+"?ReturnUrl=%2Fsso", "jsmith", "Pa55word!")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/sso" || !strings.Contains(r.header.Get("Set-Cookie"), "Path=/;") {
		t.Fatalf("%d %q %q", r.status, r.header.Get("Location"), r.header.Get("Set-Cookie"))
	}
	r = do(t, b, "GET", e.srv.URL+"/sso", nil)
	rt := hidden(r.body, "refresh_token")
	tok, err := e.ams.RefreshGrant(context.Background(), rt)
	if err != nil || tok.UserName != "JSmith" {
		t.Fatalf("%v %v", tok, err)
	}
}

func TestConcurrentTokens(t *testing.T) {
	e := newEnv(t, base)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	rt, _ := e.sim.IssueRefreshToken("JSmith", clientID)
	var wins sync.Map
	for i := range 20 {
		wg.Go(func() {
			own, err := e.sim.IssueRefreshToken("JSmith", clientID)
			if err == nil {
				_, err = e.ams.RefreshGrant(ctx, own)
			}
			if err != nil {
				errs <- err
			}
			// Everyone races for the same token: exactly one wins.
			if _, err := e.ams.RefreshGrant(ctx, rt); err == nil {
				wins.Store(i, true)
			} else if !errors.Is(err, token.ErrInvalidGrant) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	wins.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Errorf("%d winners for a single-use token", n)
	}
}

func TestConfig(t *testing.T) {
	good := sim.Config{Authenticator: testDir, Clients: []sim.ClientApp{{ClientID: "a", ClientSecret: "s", LoginRedirectURL: "http://localhost:8080/handoff/imis"}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*sim.Config)
		want   string
	}{
		{"no authenticator", func(c *sim.Config) { c.Authenticator = nil }, "sim.authenticator"},
		{"trailing slash", func(c *sim.Config) { c.BasePath = "/demo-ams/" }, "sim.base_path"},
		{"pattern chars", func(c *sim.Config) { c.BasePath = "/{x}" }, "sim.base_path"},
		{"no clients", func(c *sim.Config) { c.Clients = nil }, "sim.clients"},
		{"duplicate", func(c *sim.Config) { c.Clients = append(c.Clients, c.Clients[0]) }, "duplicate"},
		{"relative redirect", func(c *sim.Config) { c.Clients[0].LoginRedirectURL = "/handoff" }, "login_redirect_url"},
		{"origin with path", func(c *sim.Config) { c.AllowedReturnOrigins = []string{"https://a.example/x"} }, "allowed_return_origins[0]"},
	} {
		c := good
		c.Clients = append([]sim.ClientApp(nil), good.Clients...)
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New did not panic on an invalid configuration")
		}
	}()
	sim.New(sim.Config{})
}
