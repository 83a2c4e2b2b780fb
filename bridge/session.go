package bridge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// cookieName is the cookie's name on http; on https it is cookieNameHost, which browsers accept
// only with Secure, Path=/ and no Domain (no subdomain can set or shadow it).
const (
	cookieName     = "ssobridge"
	cookieNameHost = "__Host-ssobridge"
)

// cookieSessions keeps the browser cookie. It holds only identifiers: a random browser id
// (for CSRF tokens), the SSO session id once signed in, and the pending auth request id
// during an AMS hand-off. Everything else lives in the store.
type cookieSessions struct {
	store   *sessions.CookieStore
	csrfKey []byte
	name    string
}

func newCookieSessions(hashKey, blockKey, csrfKey []byte, secure bool, lifetime time.Duration) *cookieSessions {
	cs := sessions.NewCookieStore(hashKey, blockKey)
	cs.Options = &sessions.Options{
		Path: "/", MaxAge: int(lifetime.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
	name := cookieName
	if secure {
		name = cookieNameHost
	}
	return &cookieSessions{store: cs, csrfKey: csrfKey, name: name}
}

// get returns the cookie session (a new one when absent or tampered with).
func (cs *cookieSessions) get(r *http.Request) *sessions.Session {
	sess, err := cs.store.Get(r, cs.name)
	if err != nil {
		sess, _ = cs.store.New(r, cs.name)
		sess.IsNew = true
	}
	if sess.IsNew && cs.name != cookieName {
		// A cookie from before the __Host- prefix: carried over (saved under the new name).
		if old, err := cs.store.Get(r, cookieName); err == nil && !old.IsNew {
			for k, v := range old.Values {
				sess.Values[k] = v
			}
		}
	}
	return sess
}

func str(sess *sessions.Session, k string) string {
	v, _ := sess.Values[k].(string)
	return v
}

// browserID returns the cookie's browser id, creating and saving one when needed.
func (s *Server) browserID(c echo.Context) (string, error) {
	sess := s.cookies.get(c.Request())
	if id := str(sess, "bid"); id != "" {
		return id, nil
	}
	id := sso.RandomToken()
	sess.Values["bid"] = id
	return id, sess.Save(c.Request(), c.Response())
}

// requestBrowser returns what binds a sign-in request to this browser: the hash of a random
// nonce kept in the (sealed) cookie, created and saved when needed. It does not change at
// sign-in, so a request started before signing in is finished after it.
func (s *Server) requestBrowser(c echo.Context) (string, error) {
	sess := s.cookies.get(c.Request())
	nonce := str(sess, "abk")
	if nonce == "" {
		nonce = sso.RandomToken()
		sess.Values["abk"] = nonce
		if err := sess.Save(c.Request(), c.Response()); err != nil {
			return "", err
		}
	}
	return sso.HashToken("auth-request-browser:" + nonce), nil
}

// csrfToken derives the form token from the browser id.
func (s *Server) csrfToken(c echo.Context) (string, error) {
	bid, err := s.browserID(c)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, s.cookies.csrfKey)
	m.Write([]byte("csrf:" + bid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

var errCSRF = errors.New("csrf token missing or wrong")

// checkCSRF verifies the form's csrf field against the browser cookie in constant time.
func (s *Server) checkCSRF(c echo.Context) error {
	sess := s.cookies.get(c.Request())
	bid := str(sess, "bid")
	if bid == "" {
		return errCSRF
	}
	m := hmac.New(sha256.New, s.cookies.csrfKey)
	m.Write([]byte("csrf:" + bid))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.FormValue("csrf"))) != 1 {
		return errCSRF
	}
	return nil
}

func (s *Server) csrfFailed(c echo.Context) error {
	return s.errorPage(c, http.StatusForbidden, "Please try again",
		"This form had expired or was not sent from this site, so we did not act on it.",
		"Go back, reload the page and submit it again. Cookies must be enabled for this site.")
}

// currentSession returns the live SSO session of this browser. The cookie holds the session's
// random id; the store knows the session only by the SHA-256 of it (sessionKey).
func (s *Server) currentSession(c echo.Context) (*sso.Session, error) {
	sid := str(s.cookies.get(c.Request()), "sid")
	if sid == "" {
		return nil, sso.ErrNotFound
	}
	return s.store.Session(c.Request().Context(), sessionKey(sid))
}

// sessionKey is what the store keeps a session under: the SHA-256 of the cookie's session id,
// so that the database alone holds no usable session id.
func sessionKey(cookieID string) string { return sso.HashToken(cookieID) }

// setSession records the SSO session's (unhashed) id in the cookie, with a new browser id: CSRF
// tokens handed out before the sign-in stop working with it.
func (s *Server) setSession(c echo.Context, sid string) error {
	sess := s.cookies.get(c.Request())
	sess.Values["bid"] = sso.RandomToken()
	sess.Values["sid"] = sid
	return sess.Save(c.Request(), c.Response())
}

// clearSession removes the SSO session id from the cookie (keeping the browser id).
func (s *Server) clearSession(c echo.Context) error {
	sess := s.cookies.get(c.Request())
	delete(sess.Values, "sid")
	delete(sess.Values, "pending")
	return sess.Save(c.Request(), c.Response())
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return b
}
