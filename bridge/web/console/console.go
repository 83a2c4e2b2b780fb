package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/securecookie"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Path is where the console is mounted on the admin listener.
const Path = "/console/"

// ClientID is the console's client id at the bridge (and in its audit rows, also those the
// store writes for console sessions it ends: store.ConsoleClientID).
const ClientID = store.ConsoleClientID

// Config is what the console is built from.
type Config struct {
	// URL is the console's origin (scheme://host[:port]) as administrators' browsers reach it.
	URL string
	// Issuer is the bridge's issuer; HTTP reaches it (the composition root passes an
	// in-process transport to the bridge's own handler).
	Issuer string
	HTTP   *http.Client
	// ClientSecret is the console client's secret (Client's hash).
	ClientSecret string
	// Roles admit a member (any one of them, from the AMS).
	Roles []string
	// IdleTimeout ends a console session after this long without a request.
	IdleTimeout time.Duration
	// RequireSecondFactor admits only administrators who signed in with a second factor: the
	// console's sign-in asks the bridge for one (acr_values), so that one without a factor
	// enrols at the bridge's second-factor step, and refuses an ID token without it.
	RequireSecondFactor bool
	// HashKey (32+ bytes) and BlockKey (32 bytes) authenticate and encrypt the cookies.
	HashKey, BlockKey []byte
	Admin             *admin.Service
	// Sessions keeps the console's sessions server-side: the cookie carries only a random
	// id, so that signing out (or an administrator ending the session) ends every copy of it.
	Sessions store.ConsoleSessionStore
	// BridgeSession finds the live bridge session a sign-in's ID token names (its subject and
	// sid claim) and answers its id and end; sso.ErrNotFound when there is none. A console
	// session belongs to that bridge session: it lasts no longer, and the store ends it when
	// the bridge session ends (store.ConsoleSession.BridgeSession).
	BridgeSession func(ctx context.Context, subject, sid string) (id string, expires time.Time, err error)
	// Org names the organisation on the pages.
	Org    string
	Logger *slog.Logger
	Now    func() time.Time
}

// maxSession is the longest a console session lasts, however active.
const maxSession = 12 * time.Hour

// Client is the console's client registration: confidential, code flow only, its redirect URI
// on the console's origin, trusted (no consent page).
func Client(consoleURL, secret string) sso.ClientConfig {
	c := sso.ClientConfig{
		ID: ClientID, Name: "Admin console", SecretHash: sso.HashSecret(secret), Trusted: true,
		RedirectURIs:           []string{consoleURL + Path + "callback"},
		PostLogoutRedirectURIs: []string{consoleURL + Path + "signed-out"},
		GrantTypes:             []string{sso.GrantAuthorizationCode},
		Scopes:                 []string{"openid"},
	}
	c.FillDefaults()
	return c
}

// Console serves the admin console.
type Console struct {
	cfg     Config
	origin  string
	secure  bool
	codec   *securecookie.SecureCookie
	session string // cookie names
	login   string
	tmpl    map[string]*template.Template
	css     []byte
	log     *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider
}

//go:embed templates/*.html console.css
var assets embed.FS

var pages = []string{"home", "error", "signedin", "clients", "client", "secret", "invite", "sessions", "members", "provisioning", "ams", "audit", "signedout", "keys", "retirekey", "retiresamlkey"}

// New builds the console.
func New(cfg Config) (*Console, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("console: url %q: not an origin", cfg.URL)
	}
	if cfg.Admin == nil || cfg.HTTP == nil || cfg.Sessions == nil || cfg.BridgeSession == nil || len(cfg.Roles) == 0 {
		return nil, errors.New("console: admin, HTTP client, session store, bridge sessions and roles are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 15 * time.Minute
	}
	c := &Console{cfg: cfg, origin: u.Scheme + "://" + u.Host, secure: u.Scheme == "https", log: cfg.Logger,
		codec: securecookie.New(cfg.HashKey, cfg.BlockKey), tmpl: map[string]*template.Template{}}
	c.codec.MaxAge(int(maxSession.Seconds()))
	c.codec.SetSerializer(securecookie.JSONEncoder{})
	c.session, c.login = "ssobridge-console", "ssobridge-console-login"
	if c.secure {
		c.session, c.login = "__Host-"+c.session, "__Host-"+c.login
	}
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"join":   strings.Join,
		"has":    func(l []string, v string) bool { return slices.Contains(l, v) },
		"list":   func(v ...string) []string { return v },
		"lines":  func(l []string) string { return strings.Join(l, "\n") },
		"millis": func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) },
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return cfg.Now().Sub(t).Round(time.Second).String()
		},
	}
	for _, name := range pages {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		c.tmpl[name] = t
	}
	if c.css, err = fs.ReadFile(assets, "console.css"); err != nil {
		return nil, err
	}
	return c, nil
}

// oidcProvider discovers the bridge's metadata once (through the in-process client).
func (c *Console) oidcProvider(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.cfg.HTTP), c.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: discovery: %w", err)
	}
	c.provider = p
	return p, nil
}

// Handler is the console (mount it at Path on the admin listener).
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path+"login", c.startLogin)
	mux.HandleFunc("GET "+Path+"callback", c.callback)
	mux.HandleFunc("GET "+Path+"signed-out", c.signedOut)
	mux.HandleFunc("GET "+Path+"console.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(c.css)
	})
	auth := func(pattern string, h func(w http.ResponseWriter, r *http.Request, s *session)) {
		mux.Handle(pattern, c.authenticated(h))
	}
	auth("GET "+Path+"{$}", c.home)
	auth("POST "+Path+"logout", c.logout)
	auth("GET "+Path+"clients", c.clients)
	auth("GET "+Path+"clients/new", c.newClient)
	auth("POST "+Path+"clients/new", c.createClient)
	auth("GET "+Path+"clients/{id}", c.client)
	auth("POST "+Path+"clients/{id}", c.updateClient)
	auth("POST "+Path+"clients/{id}/rotate", c.rotateSecret)
	auth("POST "+Path+"clients/{id}/remove", c.removeClient)
	auth("GET "+Path+"sessions", c.sessions)
	auth("POST "+Path+"sessions/revoke", c.revokeSessions)
	auth("POST "+Path+"tokens/revoke", c.revokeTokens)
	auth("GET "+Path+"members", c.members)
	auth("POST "+Path+"members/reset-factors", c.resetFactors)
	auth("POST "+Path+"members/invite", c.issueInvite)
	auth("GET "+Path+"provisioning", c.provisioning)
	auth("POST "+Path+"provisioning/retry", c.retry)
	auth("POST "+Path+"provisioning/discard", c.discard)
	auth("GET "+Path+"ams", c.ams)
	auth("POST "+Path+"ams", c.testAMS)
	auth("GET "+Path+"audit", c.audit)
	auth("GET "+Path+"keys", c.keys)
	auth("GET "+Path+"keys/{kid}/retire", c.confirmRetireKey)
	auth("POST "+Path+"keys/{kid}/retire", c.retireKey)
	auth("GET "+Path+"keys/saml/{kid}/retire", c.confirmRetireSAMLKey)
	auth("POST "+Path+"keys/saml/{kid}/retire", c.retireSAMLKey)
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		c.errorPage(w, r, nil, http.StatusNotFound, "Not found", "There is no console page at this address.")
	})
	return c.headers(mux)
}

// headers sets the member pages' security headers (the same CSP: no script at all here).
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' "+c.cfg.Issuer+"; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Cache-Control", "no-store")
		if c.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		next.ServeHTTP(w, r)
	})
}

// session is a signed-in administrator: the store's record (store.ConsoleSession) of the
// sealed cookie's id.
type session struct {
	Sub, Login, CSRF string
	rec              *store.ConsoleSession
}

// sessionCookie is what the console's cookie carries: the session's random id, whose hash
// keys the store's record. A cookie from before the records (its fields sub, csrf ...) has no
// id: it is signed out.
type sessionCookie struct {
	ID string `json:"id"`
}

// roleCheckEvery is how often a live console session reads the administrator's AMS roles
// and standing again: a member who lost the role, or whose AMS password changed after the
// sign-in, loses the console within this time.
const roleCheckEvery = 5 * time.Minute

// seenEvery bounds the writes of a session's last-seen time: at most one a minute, not one
// per page (the idle timeout is that much less exact).
const seenEvery = time.Minute

// Reasons a console session ended (store.ConsoleSession.EndReason).
const (
	endSignedOut       = "signed out"
	endSignedInAgain   = "signed in again"
	endNoRole          = "no console role"
	endPasswordChanged = "password changed"
)

// actor names the administrator in the audit log.
func (s *session) actor() string { return "console:" + s.Login + " sub=" + s.Sub }

func (c *Console) setCookie(w http.ResponseWriter, name string, v any, maxAge time.Duration, sameSite http.SameSite) error {
	enc, err := c.codec.Encode(name, v)
	if err != nil {
		return fmt.Errorf("console: seal cookie: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: enc, Path: "/", MaxAge: int(maxAge.Seconds()), HttpOnly: true,
		Secure: c.secure, SameSite: sameSite})
	return nil
}

func (c *Console) clearCookie(w http.ResponseWriter, name string, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: sameSite})
}

func (c *Console) readCookie(r *http.Request, name string, v any) bool {
	ck, err := r.Cookie(name)
	if err != nil {
		return false
	}
	return c.codec.Decode(name, ck.Value, v) == nil
}

// cookieID is the hash of the session id the request's cookie carries ("" when none).
func (c *Console) cookieID(r *http.Request) string {
	var ck sessionCookie
	if !c.readCookie(r, c.session, &ck) || ck.ID == "" {
		return ""
	}
	return sso.HashToken(ck.ID)
}

// current is the live console session of the request: nil when the cookie has none, or its
// record is unknown, ended, expired or idle; an error when the store cannot say.
func (c *Console) current(r *http.Request) (*session, error) {
	id := c.cookieID(r)
	if id == "" {
		return nil, nil
	}
	rec, err := c.cfg.Sessions.ConsoleSession(r.Context(), id)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: session: %w", err)
	}
	now := c.cfg.Now()
	if !rec.Live(now) || now.Sub(rec.SeenAt) > c.cfg.IdleTimeout { // Live: within ExpiresAt, CreatedAt + maxSession
		return nil, nil
	}
	if c.cfg.RequireSecondFactor && !rec.MFA {
		return nil, nil // opened with a password alone (before the setting changed): sign in again
	}
	return &session{Sub: rec.Subject, Login: rec.Login, CSRF: rec.CSRF, rec: rec}, nil
}

// signedOut answers a request without a live session: a GET goes to sign-in, a POST is
// refused (it was not done).
func (c *Console) signedOutAnswer(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		http.Redirect(w, r, Path+"login?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	c.errorPage(w, r, nil, http.StatusForbidden, "Signed out",
		"Your console session has ended (signed out, or idle for too long), so this was not done. Sign in again and repeat it.")
}

// endSession ends the request's console session for reason, then clears its cookie; a session
// someone else ended first is no error. The cookie stays when the store could not end the
// session: the session lives on for every copy of the cookie, and this browser can still
// sign out again (review s11 RV2: clearing it first left the administrator looking signed out
// with the session live).
func (c *Console) endSession(w http.ResponseWriter, r *http.Request, s *session, reason string) error {
	err := c.cfg.Sessions.EndConsoleSession(r.Context(), s.rec.IDHash, c.cfg.Now(), reason)
	if err != nil && !errors.Is(err, sso.ErrNotFound) {
		return fmt.Errorf("console: end session: %w", err)
	}
	c.clearCookie(w, c.session, http.SameSiteStrictMode)
	return nil
}

// authenticated runs h for a signed-in administrator; a GET without one goes to sign-in, a POST
// is refused. Every POST must come from the console's origin with its CSRF token.
func (c *Console) authenticated(h func(w http.ResponseWriter, r *http.Request, s *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.current(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if s == nil {
			c.signedOutAnswer(w, r)
			return
		}
		if r.Method == http.MethodPost {
			// The browser names the form's origin (same-origin referrer policy); "null" (a
			// privacy setting) leaves the decision to the CSRF token.
			if o := r.Header.Get("Origin"); o != "" && o != "null" && o != c.origin {
				c.errorPage(w, r, s, http.StatusForbidden, "Refused", "This form was not sent from the console, so it was not acted on.")
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
				c.cfg.Admin.Audit(r.Context(), eventf("console.csrf_failure", s, r.URL.Path))
				c.errorPage(w, r, s, http.StatusForbidden, "Please try again",
					"This form had expired or was not sent from the console, so it was not acted on. Go back, reload the page and submit it again.")
				return
			}
		}
		now := c.cfg.Now()
		seen, checked := s.rec.SeenAt, s.rec.CheckedAt
		if now.Sub(checked) > roleCheckEvery {
			m, err := c.cfg.Admin.ConsoleMember(r.Context(), s.Sub)
			if err != nil && !errors.Is(err, admin.ErrNotFound) {
				c.fail(w, r, nil, err)
				return
			}
			if err != nil || !admin.HasRole(admin.ConsoleRoles(m), c.cfg.Roles) {
				if err := c.endSession(w, r, s, endNoRole); err != nil {
					c.fail(w, r, nil, err)
					return
				}
				c.cfg.Admin.Audit(r.Context(), eventf("console.access_revoked", s, "no console role any more"))
				c.errorPage(w, r, nil, http.StatusForbidden, "Not an administrator",
					"Your membership account no longer holds a role that may use the admin console ("+strings.Join(c.cfg.Roles, ", ")+").")
				return
			}
			// A session opened with the AMS password ends when the AMS records a change of
			// that password after its sign-in, as the bridge's sessions do (authflow Member).
			if hooks.PasswordSignInStale(m, s.rec.AuthTime, s.rec.AMR) {
				if err := c.endSession(w, r, s, endPasswordChanged); err != nil {
					c.fail(w, r, nil, err)
					return
				}
				c.cfg.Admin.Audit(r.Context(), eventf(store.EventConsoleSessionEnded, s, endPasswordChanged))
				c.signedOutAnswer(w, r)
				return
			}
			checked, seen = now, time.Time{} // written below
		}
		if now.Sub(seen) > seenEvery {
			err := c.cfg.Sessions.TouchConsoleSession(r.Context(), s.rec.IDHash, now, checked)
			if errors.Is(err, sso.ErrNotFound) { // ended since it was read
				c.clearCookie(w, c.session, http.SameSiteStrictMode)
				c.signedOutAnswer(w, r)
				return
			}
			if err != nil {
				c.fail(w, r, nil, fmt.Errorf("console: touch session: %w", err))
				return
			}
		}
		h(w, r, s)
	})
}

func randomToken() string {
	return base64.RawURLEncoding.EncodeToString(securecookie.GenerateRandomKey(32))
}
