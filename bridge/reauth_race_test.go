package bridge_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	crewjam "github.com/crewjam/saml"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// Methods of the store that a re-authentication's compare-and-set runs in: the login form's
// (authflow completeFresh, with the request's completion) and StartSession's (the SAML login,
// the hand-off, a passkey, the second-factor step without an app).
const (
	casSignIn = "CompleteSignIn"
	casReauth = "ReauthenticateSession"
)

// casHook is the real SQLite store with a hook run once, armed, at the next re-authentication
// compare-and-set of one method: before it (what another request did between the sign-in's
// read of the browser's session and its compare-and-set) or after it. It counts the
// re-authentication compare-and-sets each method was asked to try since it was armed.
type casHook struct {
	store.Store
	mu     sync.Mutex
	method string
	after  bool
	hook   func()
	tried  map[string]int
}

func newCASHook(st store.Store) *casHook { return &casHook{Store: st, tried: map[string]int{}} }

// arm runs hook at the next re-authentication compare-and-set of method, after it when after
// is set, and starts counting afresh.
func (s *casHook) arm(method string, after bool, hook func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.method, s.after, s.hook, s.tried = method, after, hook, map[string]int{}
}

// count records a compare-and-set of method and returns the hook it is to run (nil: none).
func (s *casHook) count(method string) (hook func(), after bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tried[method]++
	if s.method != method || s.hook == nil {
		return nil, false
	}
	hook, s.hook = s.hook, nil
	return hook, s.after
}

func (s *casHook) triedOf(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tried[method]
}

func (s *casHook) around(method string, call func() error) error {
	hook, after := s.count(method)
	if hook != nil && !after {
		hook()
	}
	err := call()
	if hook != nil && after {
		hook()
	}
	return err
}

func (s *casHook) CompleteSignIn(ctx context.Context, in *store.SignIn) error {
	if in.Reauth == nil {
		return s.Store.CompleteSignIn(ctx, in)
	}
	return s.around(casSignIn, func() error { return s.Store.CompleteSignIn(ctx, in) })
}

func (s *casHook) ReauthenticateSession(ctx context.Context, r *store.SessionReauth) error {
	return s.around(casReauth, func() error { return s.Store.ReauthenticateSession(ctx, r) })
}

// reauthRace is a browser signed in as alice at the app "other" (its session's id sid), on a
// bridge over casHook that also serves the SAML SP "lms".
type reauthRace struct {
	e     *env
	st    *casHook
	b     *bridgetest.Browser
	lms   *samlSP
	saml  *http.Client // the browser (its cookie jar), following redirects
	web   *oauth2.Config
	other *oauth2.Config
	sid   string
}

func newReauthRace(t *testing.T) *reauthRace {
	t.Helper()
	r := &reauthRace{lms: newSAMLSP(t)}
	deps := envDeps{store: func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		r.st = newCASHook(st)
		return r.st
	}}
	r.e = newEnvDeps(t, false, nil, deps, withGrantClients, func(c *bridge.Config) {
		c.SAML.ServiceProviders = append(c.SAML.ServiceProviders, r.lms.config("lms", "Learning Portal"))
	})
	r.lms.start(t, r.e, crewjam.HTTPRedirectBinding, "lms_token")
	r.web, _ = r.e.oauth("web", webSecret, r.e.rp+"/callback", oauth2.AuthStyleInHeader)
	r.other, _ = r.e.oauth("other", otherSecret, r.e.rp+"/other", oauth2.AuthStyleInHeader)
	r.b = r.e.browser()
	r.saml = &http.Client{Jar: r.b.Client.Jar}
	r.sid = sidOf(t, r.e, r.other, r.e.signIn(r.b, r.other.AuthCodeURL("a"), "alice", "alice-password"))
	return r
}

// live is the store's live sessions.
func (r *reauthRace) live(t *testing.T) []*sso.Session {
	t.Helper()
	l, err := r.st.Sessions(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// the session's id, as the store keeps it
func (r *reauthRace) sessionID(t *testing.T) string {
	t.Helper()
	l := r.live(t)
	if len(l) != 1 {
		t.Fatalf("%d live sessions, want 1", len(l))
	}
	return l[0].ID
}

// samlBody GETs u with the browser and returns the page it ends on.
func (r *reauthRace) samlBody(t *testing.T, req func() (*http.Response, error)) string {
	t.Helper()
	resp, err := req()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// samlRequest sends the browser to the bridge with an AuthnRequest of lms and returns the page
// it gets: the login form (ForceAuthn, or no session) or the SAMLResponse form.
func (r *reauthRace) samlRequest(t *testing.T, force bool) string {
	t.Helper()
	req, err := r.lms.mw.ServiceProvider.MakeAuthenticationRequest(r.e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	req.ForceAuthn = &force
	u, err := req.Redirect("", &r.lms.mw.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	return r.samlBody(t, func() (*http.Response, error) { return r.saml.Get(u.String()) })
}

// samlLogin submits alice's password on the SAML login form in body.
func (r *reauthRace) samlLogin(t *testing.T, body string) string {
	t.Helper()
	f := formFields(body)
	if f.Get("csrf") == "" || f.Get("id") == "" {
		t.Fatalf("no SAML login form: %.300s", body)
	}
	return r.samlBody(t, func() (*http.Response, error) {
		return r.saml.PostForm(r.e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
			"login": {"alice"}, "password": {"alice-password"}})
	})
}

// oidcForm opens web's prompt=login request and returns its filled-in login form.
func (r *reauthRace) oidcForm(t *testing.T) url.Values {
	t.Helper()
	p := r.b.Get(r.web.AuthCodeURL("b", oauth2.SetAuthURLParam("prompt", "login")))
	f := p.Hidden()
	if p.Location != "" || f.Get("id") == "" {
		t.Fatalf("prompt=login was answered without the form: %d %q", p.Status, p.Location)
	}
	return url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
}

// oidcCode posts the login form and returns web's code, following op's callback when the
// sign-in went there (a completion that lost its session's compare-and-set).
func (r *reauthRace) oidcCode(t *testing.T, form url.Values) string {
	t.Helper()
	p := r.b.Post(r.e.issuer+"/login", form)
	loc := p.Location
	if strings.HasPrefix(loc, "/") {
		loc = r.b.Get(r.e.issuer + loc).Location
	}
	u, err := url.Parse(loc)
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("the login form ended at %d %q %.300s, want web's code", p.Status, p.Location, p.Body)
	}
	return u.Query().Get("code")
}

// TestReauthenticationOfAnEndedSession (review s11 RV2): the browser's session ends (signed out
// elsewhere, ended by an administrator) between the page that asks alice for a fresh sign-in
// and her submission, on both ways a re-authentication is written: the login form of a
// prompt=login request (its compare-and-set with the request's completion) and a SAML
// ForceAuthn login (StartSession's). When the session ended before the compare-and-set, the
// sign-in opens a new session (a new sid), the browser holds it and goes on with it, and the
// compare-and-set is not tried a second time; when it ended just after, the sign-in's session
// stays ended: its code is refused at the token endpoint, and the browser is asked to sign in.
func TestReauthenticationOfAnEndedSession(t *testing.T) {
	for _, entry := range []string{casSignIn, casReauth} {
		for _, after := range []bool{false, true} {
			name := entry + "/ended_first"
			if after {
				name = entry + "/ended_after"
			}
			t.Run(name, func(t *testing.T) {
				r := newReauthRace(t)
				ctx := context.Background()
				id := r.sessionID(t)
				end := func() {
					if err := r.st.EndSession(ctx, id); err != nil {
						t.Errorf("end the session: %v", err)
					}
				}
				var code string
				if entry == casSignIn {
					form := r.oidcForm(t)
					r.st.arm(entry, after, end)
					code = r.oidcCode(t, form)
				} else {
					if body := r.samlRequest(t, false); !strings.Contains(body, `name="SAMLResponse"`) {
						t.Fatalf("SAML sign-in with the session: %.300s", body)
					}
					body := r.samlRequest(t, true)
					r.st.arm(entry, after, end)
					body = r.samlLogin(t, body)
					switch {
					case after && (strings.Contains(body, `name="SAMLResponse"`) || !strings.Contains(body, "You were signed out")):
						// Ended after its sign-in: the SP is not signed into the ended session
						// (AddSAMLParticipant refuses it, review s20 X20-1), as web's code is refused.
						t.Fatalf("ForceAuthn sign-in whose session ended after it: %.300s, want the signed-out page", body)
					case !after && !strings.Contains(body, `name="SAMLResponse"`):
						t.Fatalf("ForceAuthn sign-in with its session ended: %.300s", body)
					}
				}
				if n := r.st.triedOf(entry); n != 1 {
					t.Errorf("%s tried %d times, want once", entry, n)
				}
				if n := r.st.triedOf(casReauth) + r.st.triedOf(casSignIn); n != 1 {
					t.Errorf("%d re-authentication compare-and-sets, want 1 (the lost one is not tried again)", n)
				}
				live := r.live(t)
				if after {
					if len(live) != 0 {
						t.Fatalf("live sessions %+v, want none", live)
					}
					if code != "" {
						if _, err := r.web.Exchange(r.e.ctx(), code); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
							t.Fatalf("the code of the ended session: %v, want invalid_grant", err)
						}
					}
					if p := r.b.Get(r.other.AuthCodeURL("c")); p.Location != "" {
						t.Fatalf("the browser went on without signing in: %q", p.Location)
					}
					return
				}
				if len(live) != 1 || live[0].ID == id {
					t.Fatalf("live sessions %+v, want one new one (not %s)", live, id)
				}
				var sid string
				if code != "" {
					if sid = sidOf(t, r.e, r.web, code); sid == r.sid {
						t.Fatalf("web got the ended session's sid %s", sid)
					}
				}
				// The browser holds the new session and goes on with it.
				got := sidOf(t, r.e, r.other, r.e.signIn(r.b, r.other.AuthCodeURL("c"), "", ""))
				if got == r.sid || (sid != "" && got != sid) {
					t.Fatalf("the browser went on to other with sid %s, want the new session's (ended %s, web %s)", got, r.sid, sid)
				}
			})
		}
	}
}

// TestReauthenticationRaceAcrossEntryPoints (review s11 RV2): two tabs of one browser sign
// alice in again at once, one through the login form of a prompt=login request, the other
// through a SAML ForceAuthn login, each having read the session before the other's
// compare-and-set; in both orders. The one whose compare-and-set comes second goes on with the
// session as the first left it, without trying its compare-and-set again: both apps get their
// answer, alice keeps one session (the same sid), and the browser goes on with it.
func TestReauthenticationRaceAcrossEntryPoints(t *testing.T) {
	for _, loser := range []string{casSignIn, casReauth} {
		t.Run(loser+"_second", func(t *testing.T) {
			r := newReauthRace(t)
			id := r.sessionID(t)
			if body := r.samlRequest(t, false); !strings.Contains(body, `name="SAMLResponse"`) {
				t.Fatalf("SAML sign-in with the session: %.300s", body)
			}
			form := r.oidcForm(t)
			samlForm := r.samlRequest(t, true)
			var code, samlBody string
			if loser == casSignIn {
				// The SAML tab's whole sign-in lands between the form's read and its compare-and-set.
				r.st.arm(casSignIn, false, func() { samlBody = r.samlLogin(t, samlForm) })
				code = r.oidcCode(t, form)
			} else {
				r.st.arm(casReauth, false, func() { code = r.oidcCode(t, form) })
				samlBody = r.samlLogin(t, samlForm)
			}
			if !strings.Contains(samlBody, `name="SAMLResponse"`) {
				t.Fatalf("the SAML tab: %.300s", samlBody)
			}
			if got := sidOf(t, r.e, r.web, code); got != r.sid {
				t.Errorf("web's sid %s, want the session's %s", got, r.sid)
			}
			if s, w := r.st.triedOf(casSignIn), r.st.triedOf(casReauth); s != 1 || w != 1 {
				t.Errorf("compare-and-sets tried: %d with a completion, %d alone; want 1 and 1 (the lost one is not tried again)", s, w)
			}
			if got := r.sessionID(t); got != id {
				t.Fatalf("the session is %s, want %s kept", got, id)
			}
			if got := sidOf(t, r.e, r.other, r.e.signIn(r.b, r.other.AuthCodeURL("c"), "", "")); got != r.sid {
				t.Fatalf("the browser went on to other with sid %s, want %s", got, r.sid)
			}
		})
	}
}
