package bridge_test

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// q28Answer is one response, redirects not followed.
type q28Answer struct {
	status   int
	location string
	ctype    string
	body     string
	header   http.Header
}

// json decodes the answer's JSON body (nil when it is none).
func (a q28Answer) json() map[string]any {
	mt, _, _ := mime.ParseMediaType(a.ctype)
	if mt != "application/json" {
		return nil
	}
	var m map[string]any
	if json.Unmarshal([]byte(a.body), &m) != nil {
		return nil
	}
	return m
}

// The headers of the kinds of request a browser sends (Fetch Metadata, Accept).
var (
	q28Navigation = map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "same-site"}
	q28Iframe = map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "same-site"}
	q28OldBrowser = map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
	q28JSONCaller = map[string]string{"Accept": "application/json"}
	q28Fetch      = map[string]string{"Accept": "*/*", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin"}
	q28Image      = map[string]string{"Accept": "image/avif,image/webp,*/*", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image", "Sec-Fetch-Site": "same-site"}
)

// q28Do sends one request with b's cookies and the headers hdr, and does not follow a redirect.
func q28Do(t *testing.T, b *bridgetest.Browser, method, u string, form url.Values, hdr map[string]string) q28Answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := *b.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return q28Answer{status: resp.StatusCode, location: resp.Header.Get("Location"), ctype: resp.Header.Get("Content-Type"), body: string(raw),
		header: resp.Header}
}

// Session 28 (Q), closing s27 "A crafted prompt=none request posted to a JSON endpoint could
// get a 303": a silent request's answer (login_required, consent_required, ...: a 303 to the
// app's redirect_uri with error, state and iss; OIDC Core 3.1.2.6) was given to whatever asked,
// a script's fetch or XHR (Accept: application/json, Sec-Fetch-Mode cors), an image, as to the
// browser's navigation, and the request ended with it: the fetch follows the 303 to the
// redirect_uri itself (a script's request to the app's callback), and the app's own page,
// the iframe or redirect waiting for the one answer, never gets it. Only a navigation carries
// an authorization response: every other request gets the error in RFC 6749 JSON and the
// request stays pending for the navigation, which still gets the 303 (and does here). The
// JSON endpoints that load a sign-in request (the passkey sign-in's begin and finish) answer
// in their own JSON, never a redirect or the HTML error page; the protocol's API endpoints
// answer crafted prompt=none parameters in RFC 6749 JSON, never a redirect.
func TestQ28SilentAnswersOnlyToANavigation(t *testing.T) {
	e := newEnvDeps(t, false, nil, envDeps{}, localhostIssuer)
	e.issuer = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
	ctx := context.Background()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader, "openid", "profile")
	silent := oauth2.SetAuthURLParam("prompt", "none")

	// Alice has a passkey (registered as a registration stores one) and no session.
	e.signIn(e.browser(), web.AuthCodeURL("s0"), "alice", "alice-password")
	all, err := e.store.Sessions(ctx, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("sessions after the password sign-in: %v %v", all, err)
	}
	subject := all[0].Subject
	if _, err := e.store.EndSubjectSessions(ctx, subject); err != nil {
		t.Fatal(err)
	}
	handle, err := e.store.MFAUserHandle(ctx, subject, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	key := bridgetest.NewPasskey(t, handle)
	if err := e.store.AddWebAuthnCredential(ctx, &store.WebAuthnCredential{ID: key.ID(), Subject: subject, Name: "soft",
		Data: key.Credential(t), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	// posted opens a silent request of cfg as a form posted to /authorize (OIDC Core 3.1.2.1
	// allows POST; op answers it with its redirect to the login page) and returns its id.
	posted := func(t *testing.T, b *bridgetest.Browser, cfg *oauth2.Config, state string) string {
		t.Helper()
		u, _ := url.Parse(cfg.AuthCodeURL(state, silent))
		a := q28Do(t, b, http.MethodPost, e.issuer+sso.PathAuthorize, u.Query(), q28Navigation)
		l, _ := url.Parse(a.location)
		if a.status/100 != 3 || l == nil || l.Path != "/login" || l.Query().Get("id") == "" {
			t.Fatalf("POST /authorize: %d %q %.300s", a.status, a.location, a.body)
		}
		return l.Query().Get("id")
	}
	// csrf is the browser's form token, from a login page of its own.
	csrf := func(t *testing.T, b *bridgetest.Browser) string {
		t.Helper()
		h := b.Get(web.AuthCodeURL("csrf")).Hidden()
		if h.Get("csrf") == "" {
			t.Fatal("no login form")
		}
		return h.Get("csrf")
	}
	// toApp checks that a is the silent answer at the app: 303 to redirect with error, state
	// and iss (RFC 9207).
	toApp := func(t *testing.T, a q28Answer, redirect, wantErr, state string) {
		t.Helper()
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, redirect+"?") {
			t.Fatalf("answered %d (Location %q): %.300s; want 303 to %s", a.status, a.location, a.body, redirect)
		}
		u, _ := url.Parse(a.location)
		if q := u.Query(); q.Get("error") != wantErr || q.Get("state") != state || q.Get("iss") != e.issuer || q.Get("code") != "" {
			t.Fatalf("the app is told %v, want error=%s, state %q and iss", q, wantErr, state)
		}
	}
	// inJSON checks that a is a JSON answer with status and error (RFC 6749 5.2's members, or
	// the passkey endpoints' one-line "error"), and no redirect.
	inJSON := func(t *testing.T, what string, a q28Answer, status int, wantErr string) map[string]any {
		t.Helper()
		if a.status/100 == 3 || a.location != "" {
			t.Fatalf("%s: answered %d to %q: a redirect for a request that is no navigation", what, a.status, a.location)
		}
		m := a.json()
		if m == nil {
			t.Fatalf("%s: answered %d %q, not JSON: %.300s", what, a.status, a.ctype, a.body)
		}
		if a.status != status || (wantErr != "" && m["error"] != wantErr) {
			t.Fatalf("%s: answered %d %v, want %d with error %q", what, a.status, m, status, wantErr)
		}
		if strings.Contains(a.body, "state") {
			t.Fatalf("%s: the request's state in the answer: %s", what, a.body)
		}
		return m
	}

	tests := []struct {
		name string
		run  func(t *testing.T, b *bridgetest.Browser)
	}{
		// /authorize with no session (login_required).
		{"authorize, hidden iframe (navigation)", func(t *testing.T, b *bridgetest.Browser) {
			toApp(t, q28Do(t, b, http.MethodGet, web.AuthCodeURL("n1", silent), nil, q28Iframe), e.rp+"/callback", "login_required", "n1")
		}},
		{"authorize, a browser without Fetch Metadata (navigation)", func(t *testing.T, b *bridgetest.Browser) {
			toApp(t, q28Do(t, b, http.MethodGet, web.AuthCodeURL("n2", silent), nil, q28OldBrowser), e.rp+"/callback", "login_required", "n2")
		}},
		{"authorize, JSON caller", func(t *testing.T, b *bridgetest.Browser) {
			inJSON(t, "GET /authorize", q28Do(t, b, http.MethodGet, web.AuthCodeURL("j1", silent), nil, q28JSONCaller), http.StatusBadRequest, "login_required")
		}},
		{"authorize, fetch", func(t *testing.T, b *bridgetest.Browser) {
			inJSON(t, "GET /authorize", q28Do(t, b, http.MethodGet, web.AuthCodeURL("j2", silent), nil, q28Fetch), http.StatusBadRequest, "login_required")
		}},
		{"authorize, image", func(t *testing.T, b *bridgetest.Browser) {
			inJSON(t, "GET /authorize", q28Do(t, b, http.MethodGet, web.AuthCodeURL("j3", silent), nil, q28Image), http.StatusBadRequest, "login_required")
		}},
		// The login page of a silent request opened by a form posted to /authorize: the JSON
		// caller gets JSON and the request stays for the navigation.
		{"login page, JSON caller, then the navigation", func(t *testing.T, b *bridgetest.Browser) {
			id := posted(t, b, web, "l1")
			inJSON(t, "GET /login", q28Do(t, b, http.MethodGet, e.issuer+"/login?id="+url.QueryEscape(id), nil, q28JSONCaller), http.StatusBadRequest, "login_required")
			toApp(t, q28Do(t, b, http.MethodGet, e.issuer+"/login?id="+url.QueryEscape(id), nil, q28Navigation), e.rp+"/callback", "login_required", "l1")
		}},
		// The login form posted by a script for a silent request of an app that needs consent
		// (consent_required), then the navigation.
		{"login form, JSON caller, then the navigation", func(t *testing.T, b *bridgetest.Browser) {
			token := csrf(t, b)
			id := posted(t, b, third, "l2")
			a := q28Do(t, b, http.MethodPost, e.issuer+"/login", url.Values{"csrf": {token}, "id": {id}, "login": {"bob"}, "password": {"bob-password"}}, q28JSONCaller)
			inJSON(t, "POST /login", a, http.StatusBadRequest, "consent_required")
			toApp(t, q28Do(t, b, http.MethodGet, e.issuer+"/login?id="+url.QueryEscape(id), nil, q28Navigation), e.rp+"/third", "consent_required", "l2")
		}},
		// The passkey sign-in (JSON endpoints) of a silent request: begin and finish answer in
		// JSON; the page's navigation to the finish's next gets the app's answer.
		{"passkey sign-in of a silent request", func(t *testing.T, b *bridgetest.Browser) {
			token := csrf(t, b)
			id := posted(t, b, third, "p1")
			fields := url.Values{"csrf": {token}, "id": {id}}
			begun := inJSON(t, "passkey begin", q28Do(t, b, http.MethodPost, e.issuer+"/login/passkey/begin", fields, q28JSONCaller), http.StatusOK, "")
			opts, _ := begun["options"].(map[string]any)
			pk, _ := opts["publicKey"].(map[string]any)
			challenge, _ := pk["challenge"].(string)
			rpID, _ := pk["rpId"].(string)
			ceremony, _ := begun["ceremony"].(string)
			f := url.Values{"csrf": {token}, "id": {id}, "ceremony": {ceremony}, "credential": {string(key.Assert(t, rpID, e.issuer, challenge))}}
			done := inJSON(t, "passkey finish", q28Do(t, b, http.MethodPost, e.issuer+"/login/passkey/finish", f, q28JSONCaller), http.StatusOK, "")
			next, _ := done["next"].(string)
			if next == "" {
				t.Fatalf("passkey finish: %v, want next", done)
			}
			// The script's navigation to next (the continuation), then on to the app.
			a := q28Do(t, b, http.MethodGet, e.issuer+next, nil, q28Navigation)
			for i := 0; i < 5 && a.status == http.StatusSeeOther && strings.HasPrefix(a.location, "/"); i++ {
				a = q28Do(t, b, http.MethodGet, e.issuer+a.location, nil, q28Navigation)
			}
			toApp(t, a, e.rp+"/third", "consent_required", "p1")
		}},
		// A passkey begin for a silent request answered already: the endpoint's JSON (it was
		// the HTML error page, which the script cannot read).
		{"passkey begin, request answered already (ended)", func(t *testing.T, b *bridgetest.Browser) {
			token := csrf(t, b)
			id := posted(t, b, web, "p2")
			toApp(t, q28Do(t, b, http.MethodGet, e.issuer+"/login?id="+url.QueryEscape(id), nil, q28Navigation), e.rp+"/callback", "login_required", "p2")
			a := q28Do(t, b, http.MethodPost, e.issuer+"/login/passkey/begin", url.Values{"csrf": {token}, "id": {id}}, q28JSONCaller)
			inJSON(t, "passkey begin", a, http.StatusBadRequest, "This sign-in has expired. Go back to the app and start signing in again.")
		}},
		// The protocol's JSON endpoints with the parameters of a silent request.
		{"API endpoints, crafted prompt=none", func(t *testing.T, b *bridgetest.Browser) {
			crafted := url.Values{"prompt": {"none"}, "client_id": {"web"}, "redirect_uri": {e.rp + "/callback"}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"x"}}
			// Refused (4xx: no client authentication, a code that is none, no token; failed
			// client authentications are throttled, 429), in JSON (userinfo's refusal is its
			// WWW-Authenticate challenge, RFC 6750 3), never redirected.
			for _, ep := range []struct {
				path  string
				extra url.Values
			}{
				{sso.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}}},
				{sso.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "client_secret": {webSecret}}},
				{sso.PathIntrospect, url.Values{"token": {"nope"}}},
				{sso.PathRevoke, url.Values{"token": {"nope"}}},
				{sso.PathDeviceAuthzEP, nil},
				{sso.PathUserinfo, nil},
			} {
				form := url.Values{}
				for k, v := range crafted {
					form[k] = v
				}
				for k, v := range ep.extra {
					form[k] = v
				}
				for _, hdr := range []map[string]string{q28JSONCaller, q28Navigation} {
					a := q28Do(t, b, http.MethodPost, e.issuer+ep.path, form, hdr)
					if a.status/100 == 3 || a.location != "" {
						t.Errorf("POST %s: answered %d to %q", ep.path, a.status, a.location)
					}
					if a.status/100 != 4 {
						t.Errorf("POST %s: answered %d, want a refusal: %.200s", ep.path, a.status, a.body)
					}
					if ep.path != sso.PathUserinfo && a.json() == nil {
						t.Errorf("POST %s: answered %d %q, not JSON: %.200s", ep.path, a.status, a.ctype, a.body)
					}
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, e.browser()) })
	}
}
