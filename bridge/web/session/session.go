package session

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/sso"
)

// cookieName is the cookie's name on http; on https it is cookieNameHost, which browsers accept
// only with Secure, Path=/ and no Domain (no subdomain can set or shadow it).
const (
	cookieName     = "ssobridge"
	cookieNameHost = "__Host-ssobridge"
)

// Values kept in the cookie.
const (
	keyBrowser = "bid"     // random browser id: CSRF tokens derive from it
	keySession = "sid"     // the SSO session's random id (the store knows only its hash)
	keyBinding = "abk"     // nonce binding sign-in requests to this browser
	keyPending = "pending" // the auth request waiting for a hand-off from the AMS website
)

// Config is what the cookie sessions are built from.
type Config struct {
	// HashKey and BlockKey authenticate and encrypt the cookie; CSRFKey keys the form tokens.
	HashKey, BlockKey, CSRFKey []byte
	// Secure marks the cookie Secure and __Host- prefixed (an https issuer).
	Secure   bool
	Lifetime time.Duration
}

// Store finds SSO sessions by the key of their browser's cookie value (store.SessionStore): the
// key they are stored under, or the one that replaced it when the member signed in again.
type Store interface {
	SessionByCookie(ctx context.Context, key string) (*sso.Session, error)
}

// Cookies keeps the browser cookie. It holds only identifiers: a random browser id (for CSRF
// tokens), the SSO session id once signed in, and the pending auth request id during an AMS
// hand-off.
type Cookies struct {
	store    *sessions.CookieStore
	seal     *sealer      // the store's codec when it is ours (nil: securecookie's)
	header   cookieHeader // the Set-Cookie header around the value and its expiry
	csrfMACs sync.Pool    // *pooledMAC: HMAC-SHA256 under the CSRF key
	name     string
	sessions Store
	pages    *web.Renderer
}

// New builds the cookie sessions; st looks up SSO sessions, pages renders the CSRF failure page.
func New(cfg Config, st Store, pages *web.Renderer) *Cookies {
	cs := sessions.NewCookieStore(cfg.HashKey, cfg.BlockKey)
	seal := newSealer(cfg.HashKey, cfg.BlockKey)
	if seal != nil {
		cs.Codecs = []securecookie.Codec{seal} // securecookie's format, fewer allocations (seal.go)
	}
	for _, c := range cs.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(gobStrings{}) // gob's bytes, without gob's cost (codec.go)
		}
	}
	cs.Options = &sessions.Options{
		Path: "/", MaxAge: int(cfg.Lifetime.Seconds()), HttpOnly: true, Secure: cfg.Secure, SameSite: http.SameSiteLaxMode,
	}
	name := cookieName
	if cfg.Secure {
		name = cookieNameHost
	}
	c := &Cookies{store: cs, seal: seal, header: newCookieHeader(name, cs.Options), name: name, sessions: st, pages: pages}
	c.csrfMACs.New = newMACPool(cfg.CSRFKey)
	return c
}

// get opens the request's cookie into a session (a new one when absent or tampered with,
// an old-name cookie carried over on https). It is called once per request: sess keeps what it
// returns in the echo context, so every caller in the request sees the same values and what
// the request has put in them (review s8 Y1). The cookie is opened by the store's New, without
// gorilla's Get: its per-request registry put itself in the request's context (a registry,
// its map, a context and a copy of the request, for every request that reads the cookie) to
// hand back a session that sess keeps anyway.
func (cs *Cookies) get(r *http.Request) *sessions.Session {
	sess, err := cs.store.New(r, cs.name)
	if err != nil {
		clear(sess.Values)
		sess.IsNew = true
	}
	if sess.IsNew && cs.name != cookieName {
		// A cookie from before the __Host- prefix: carried over (saved under the new name).
		if old, err := cs.store.New(r, cookieName); err == nil && !old.IsNew {
			for k, v := range old.Values {
				sess.Values[k] = v
			}
		}
	}
	return sess
}

// sessKey keeps (in the echo context) the cookie session get returned for this request.
const sessKey = "session.cookie"

// sess is get(c.Request()), kept in the echo context after the first call.
func (cs *Cookies) sess(c echo.Context) *sessions.Session {
	if s, ok := c.Get(sessKey).(*sessions.Session); ok {
		return s
	}
	s := cs.get(c.Request())
	c.Set(sessKey, s)
	return s
}

func str(sess *sessions.Session, k string) string {
	v, _ := sess.Values[k].(string)
	return v
}

// BrowserID returns the cookie's browser id, creating and saving one when needed.
func (cs *Cookies) BrowserID(c echo.Context) (string, error) {
	sess := cs.sess(c)
	if id := str(sess, keyBrowser); id != "" {
		return id, nil
	}
	id := sso.RandomToken()
	sess.Values[keyBrowser] = id
	return id, cs.save(c, sess)
}

// RequestBrowser returns what binds a sign-in request to this browser: the hash of a random
// nonce kept in the (sealed) cookie, created and saved when needed. It does not change at
// sign-in, so a request started before signing in is finished after it. A new cookie gets its
// browser id (BrowserID) in the same save: the login page that binds a request then asks for
// its CSRF token, and the response carries one cookie instead of two.
func (cs *Cookies) RequestBrowser(c echo.Context) (string, error) {
	binding, fresh := cs.PeekRequestBrowser(c)
	if fresh {
		if err := cs.Save(c); err != nil {
			return "", err
		}
	}
	return binding, nil
}

// PeekRequestBrowser is RequestBrowser without saving a new cookie: fresh says that the
// binding (and the browser id that comes with it) is new and not saved yet. The caller saves
// it (Save) once it has bound a sign-in request with it, so that a request naming no sign-in
// request leaves no cookie behind. Until then the binding is in this request's cookie
// session: RequestBrowser, CSRFToken and Save in the same request use it.
func (cs *Cookies) PeekRequestBrowser(c echo.Context) (binding string, fresh bool) {
	sess := cs.sess(c)
	nonce := str(sess, keyBinding)
	if nonce == "" {
		nonce = sso.RandomToken()
		sess.Values[keyBinding] = nonce
		if str(sess, keyBrowser) == "" {
			sess.Values[keyBrowser] = sso.RandomToken()
		}
		c.Set(unsavedKey, true)
	}
	fresh, _ = c.Get(unsavedKey).(bool)
	return sso.HashToken("auth-request-browser:" + nonce), fresh
}

// unsavedKey marks (in the echo context) a binding made by PeekRequestBrowser and not saved.
const unsavedKey = "session.unsaved"

// Save writes this request's cookie session to the response (Set-Cookie).
func (cs *Cookies) Save(c echo.Context) error { return cs.save(c, cs.sess(c)) }

// save writes sess, this request's cookie session, to the response. A HEAD's answer gets no
// cookie: a page that answers HEAD as its GET (RFC 9110 9.3.2) mints nothing for it, neither a
// browser id (the CSRF token's) nor a binding, as nobody reads the page it would go with.
func (cs *Cookies) save(c echo.Context, sess *sessions.Session) error {
	if fresh, _ := c.Get(unsavedKey).(bool); fresh {
		c.Set(unsavedKey, false)
	}
	if c.Request().Method == http.MethodHead {
		return nil
	}
	if cs.seal == nil || sess.Options == nil || *sess.Options != *cs.store.Options || !cs.header.ok {
		return sess.Save(c.Request(), c.Response())
	}
	value, err := cs.seal.Encode(sess.Name(), sess.Values)
	if err != nil {
		return securecookie.MultiError{err} // as securecookie.EncodeMulti returns it
	}
	h := c.Response().Header()
	h["Set-Cookie"] = append(h["Set-Cookie"], cs.header.line(value, time.Now()))
	return nil
}

// cookieHeader is the Set-Cookie line gorilla's CookieStore.Save writes (sessions.NewCookie's
// cookie, http.Cookie.String's text), cut around the value and the expiry: the cookie's
// attributes are the same on every response, so they are formatted once (by net/http) instead
// of an http.Cookie being built, validated and formatted for every response.
type cookieHeader struct {
	name   string // name "="
	path   string // "; Path=/" (and Domain), what comes between the value and Expires
	rest   string // "; Max-Age=..." and the flags after Expires
	maxAge time.Duration
	ok     bool // the options have the shape cut here (a positive MaxAge); else gorilla writes it
}

func newCookieHeader(name string, o *sessions.Options) cookieHeader {
	if o.MaxAge <= 0 {
		return cookieHeader{}
	}
	const v = "v"
	line := sessions.NewCookie(name, v, o)
	line.Expires = time.Time{}
	full := line.String()
	i := strings.Index(full, "; Max-Age=")
	prefix := name + "=" + v
	if i < 0 || !strings.HasPrefix(full, prefix) {
		return cookieHeader{}
	}
	return cookieHeader{name: name + "=", path: full[len(prefix):i], rest: full[i:], maxAge: time.Duration(o.MaxAge) * time.Second, ok: true}
}

// line is the header's value for a cookie value written at now (base64url: nothing in it for
// http.Cookie.String to quote or drop).
func (h cookieHeader) line(value string, now time.Time) string {
	var b strings.Builder
	b.Grow(len(h.name) + len(value) + len(h.path) + len("; Expires=") + len(http.TimeFormat) + len(h.rest))
	b.WriteString(h.name)
	b.WriteString(value)
	b.WriteString(h.path)
	b.WriteString("; Expires=")
	var buf [len(http.TimeFormat)]byte
	b.Write(now.Add(h.maxAge).UTC().AppendFormat(buf[:0], http.TimeFormat))
	b.WriteString(h.rest)
	return b.String()
}

// csrfFor derives the form token from a browser id.
func (cs *Cookies) csrfFor(bid string) string {
	m := cs.csrfMACs.Get().(*pooledMAC)
	m.h.Reset()
	m.buf = append(append(m.buf[:0], "csrf:"...), bid...)
	m.h.Write(m.buf)
	m.buf = m.h.Sum(m.buf[:0])
	var out [43]byte // base64url of 32 bytes, unpadded
	base64.RawURLEncoding.Encode(out[:], m.buf)
	cs.csrfMACs.Put(m)
	return string(out[:])
}

// CSRFToken is the form token of this browser.
func (cs *Cookies) CSRFToken(c echo.Context) (string, error) {
	bid, err := cs.BrowserID(c)
	if err != nil {
		return "", err
	}
	return cs.csrfFor(bid), nil
}

// ErrCSRF is a form whose CSRF token is missing or wrong.
var ErrCSRF = errors.New("csrf token missing or wrong")

// CheckCSRF verifies the form's csrf field against the browser cookie in constant time.
func (cs *Cookies) CheckCSRF(c echo.Context) error {
	bid := str(cs.sess(c), keyBrowser)
	if bid == "" {
		return ErrCSRF
	}
	parseForm(c.Request()) // the form is read here first
	if subtle.ConstantTimeCompare([]byte(cs.csrfFor(bid)), []byte(c.FormValue("csrf"))) != 1 {
		return ErrCSRF
	}
	return nil
}

// CSRFFailed is the page for a form that failed CheckCSRF.
func (cs *Cookies) CSRFFailed(c echo.Context) error {
	return cs.pages.Error(c, http.StatusForbidden, "Please try again",
		"This form had expired or was not sent from this site, so we did not act on it.",
		"Go back, reload the page and submit it again. Cookies must be enabled for this site.")
}

// Current returns the live SSO session of this browser (sso.ErrNotFound when there is none).
// The cookie holds the session's random id; the store knows the session only by its hash (Key).
func (cs *Cookies) Current(c echo.Context) (*sso.Session, error) {
	key := cs.CurrentKey(c)
	if key == "" {
		return nil, sso.ErrNotFound
	}
	return cs.sessions.SessionByCookie(c.Request().Context(), key)
}

// CurrentKey is the key of this browser's cookie value for its SSO session ("": none), which a
// re-authentication of that session compares and replaces (store.SessionReauth.CookieKey).
func (cs *Cookies) CurrentKey(c echo.Context) string {
	if sid := str(cs.sess(c), keySession); sid != "" {
		return Key(sid)
	}
	return ""
}

// Key is what the store keeps a session under: the SHA-256 of the cookie's session id, so that
// the database alone holds no usable session id. An id made by NewID (time-ordered) keeps its
// time prefix in front of the hash, so that sessions are stored in the order they began (a new
// session is appended to the last page of the store's b-tree rather than written to a random
// one); ids made before NewID existed are hashed as they were.
func Key(cookieID string) string {
	if timeOrdered(cookieID) {
		return cookieID[:timePrefix] + sso.HashToken(cookieID)
	}
	return sso.HashToken(cookieID)
}

// timePrefix is the length of the time prefix of sso.TimeOrderedToken.
const timePrefix = 16

// NewID makes a new session's cookie id (secret, 59 characters) and the key the store keeps
// the session under (Key).
func NewID(now time.Time) (cookieID, key string) {
	cookieID = sso.TimeOrderedToken(now)
	return cookieID, Key(cookieID)
}

// timeOrdered reports whether id has the shape of sso.TimeOrderedToken: 16 lowercase hex digits
// and 43 more characters (an older id is a 43-character sso.RandomToken).
func timeOrdered(id string) bool {
	if len(id) != timePrefix+43 {
		return false
	}
	for i := range timePrefix {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Set records the SSO session's (unhashed) id in the cookie, with a new browser id: CSRF tokens
// handed out before the sign-in stop working with it.
func (cs *Cookies) Set(c echo.Context, sid string) error {
	sess := cs.sess(c)
	sess.Values[keyBrowser] = sso.RandomToken()
	sess.Values[keySession] = sid
	return cs.save(c, sess)
}

// Clear removes the SSO session id (and a pending hand-off) from the cookie, keeping the browser id.
func (cs *Cookies) Clear(c echo.Context) error {
	sess := cs.sess(c)
	delete(sess.Values, keySession)
	delete(sess.Values, keyPending)
	return cs.save(c, sess)
}

// SetPending remembers the auth request to go on with after a hand-off from the AMS website.
func (cs *Cookies) SetPending(c echo.Context, authRequestID string) error {
	sess := cs.sess(c)
	sess.Values[keyPending] = authRequestID
	return cs.save(c, sess)
}

// TakePending returns the auth request remembered by SetPending ("" when none) and forgets it.
func (cs *Cookies) TakePending(c echo.Context) (string, error) {
	sess := cs.sess(c)
	id := str(sess, keyPending)
	if id == "" {
		return "", nil
	}
	delete(sess.Values, keyPending)
	return id, cs.save(c, sess)
}
