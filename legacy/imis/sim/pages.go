package sim

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ssobridge/ssobridge/legacy"
)

// maxFormBytes bounds the login form and token request bodies.
const maxFormBytes = 64 << 10

// page is the data of every page template.
type page struct {
	Site      string
	Title     string
	Nonce     string
	SignedIn  bool
	Login     string
	FullName  string
	HomeURL   string
	LoginURL  string
	LogoutURL string
	Error     string
	Message   string

	// login
	Action    string
	CSRF      string
	Hint      string
	ReturnURL string
	Username  string

	// home
	Clients []clientLink

	// sso
	PostURL      string
	RefreshToken string
	ClientName   string
}

type clientLink struct {
	Name string
	URL  string
}

func (s *Simulator) newPage(r *http.Request, title string) *page {
	p := &page{
		Site:      s.cfg.SiteName,
		Title:     title,
		Nonce:     randomHex(16),
		HomeURL:   s.HomeURL(),
		LoginURL:  s.LoginURL(""),
		LogoutURL: s.LogoutURL(""),
	}
	if sess, ok := s.sessionOf(r); ok {
		p.SignedIn, p.Login, p.FullName = true, sess.login, sess.fullName
	}
	return p
}

// render writes a page with the security headers; the template runs before anything is
// written, so a template failure is a clean 500.
func (s *Simulator) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.ErrorContext(r.Context(), "rendering a page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+p.Nonce+"'; script-src 'nonce-"+p.Nonce+
		"'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// The SSO form POSTs cross-origin: keep the Origin header meaningful for the receiver.
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

func (s *Simulator) notFound(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Page not found")
	p.Error = "The page you asked for does not exist on this site."
	s.render(w, r, http.StatusNotFound, "message", p)
}

// home: who is signed in, links to the SSO page of each client and to log out.
func (s *Simulator) home(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Home")
	for _, c := range s.cfg.Clients {
		p.Clients = append(p.Clients, clientLink{Name: c.Name, URL: s.SSOURL(c.ClientID)})
	}
	p.LoginURL = s.LoginURL(s.HomeURL())
	s.render(w, r, http.StatusOK, "home", p)
}

// csrfToken returns the visitor's anti-forgery token, setting the cookie if needed.
func (s *Simulator) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && len(c.Value) == 64 && isHex(c.Value) {
		return c.Value
	}
	tok := randomHex(32)
	http.SetCookie(w, s.cookie(CSRFCookie, tok, 0, http.SameSiteStrictMode))
	return tok
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func (s *Simulator) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, queryValue(r, "ReturnUrl"), "", "")
}

func (s *Simulator) renderLogin(w http.ResponseWriter, r *http.Request, status int, returnURL, username, errMsg string) {
	p := s.newPage(r, "Sign In")
	p.Action = s.base + LoginPath
	p.CSRF = s.csrfToken(w, r)
	if ret, ok := s.localReturn(returnURL); ok {
		p.ReturnURL = ret
	}
	p.Username = username
	p.Error = errMsg
	p.Hint = s.cfg.LoginHint
	s.render(w, r, status, "login", p)
}

func (s *Simulator) loginSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderMessage(w, r, http.StatusBadRequest, "Sign In", "The form could not be read. Please try again.")
		return
	}
	cookie, err := r.Cookie(CSRFCookie)
	form := r.PostForm.Get(CSRFCookie)
	if err != nil || form == "" || r.Header.Get("Sec-Fetch-Site") == "cross-site" ||
		subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(form)) != 1 {
		s.log.WarnContext(ctx, "login form rejected: anti-forgery token missing or wrong")
		p := s.newPage(r, "Sign In")
		p.Error = "Your sign-in form expired or did not come from this site. Please sign in again."
		p.LoginURL = s.LoginURL(r.PostForm.Get("ReturnUrl"))
		s.render(w, r, http.StatusForbidden, "message", p)
		return
	}
	returnURL := r.PostForm.Get("ReturnUrl")
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if username == "" || password == "" {
		s.renderLogin(w, r, http.StatusOK, returnURL, username, "Enter your user name and password.")
		return
	}
	m, err := s.cfg.Authenticator.Authenticate(ctx, username, password)
	if err != nil {
		status, msg := loginFailure(err)
		// The typed login is not logged: people type passwords into the user name field.
		s.log.InfoContext(ctx, "sign-in failed", slog.String("reason", legacy.Reason(err)))
		s.renderLogin(w, r, status, returnURL, username, msg)
		return
	}
	login := m.Login
	if login == "" {
		login = username
	}
	name := m.FullName
	if name == "" {
		name = strings.TrimSpace(m.GivenName + " " + m.FamilyName)
	}
	if name == "" {
		name = login
	}
	id, err := s.store.newSession(login, name, s.cfg.SessionLifetime)
	if err != nil {
		s.renderMessage(w, r, http.StatusServiceUnavailable, "Sign In", "The site is busy. Please try again later.")
		return
	}
	if old, err := r.Cookie(SessionCookie); err == nil {
		s.store.endSession(old.Value) // a new sign-in replaces the previous session
	}
	http.SetCookie(w, s.cookie(SessionCookie, id, s.cfg.SessionLifetime, http.SameSiteLaxMode))
	s.log.InfoContext(ctx, "signed in", slog.String("login", login))
	target, ok := s.localReturn(returnURL)
	if !ok {
		target = s.HomeURL()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// loginFailure maps an Authenticator error to the login page's answer. Failures before the
// password verified all read the same.
func loginFailure(err error) (int, string) {
	switch {
	case errors.Is(err, legacy.ErrUnavailable):
		return http.StatusServiceUnavailable, "The membership system is unavailable. Please try again later."
	case errors.Is(err, legacy.ErrDisabled), errors.Is(err, legacy.ErrNotMember):
		return http.StatusOK, "This account is not active. Please contact the association."
	case errors.Is(err, legacy.ErrLockedOut):
		return http.StatusOK, "This account is locked out. Please contact the association."
	case errors.Is(err, legacy.ErrNotApproved):
		return http.StatusOK, "This account has not been approved yet."
	case errors.Is(err, legacy.ErrAccountExpired):
		return http.StatusOK, "This account has expired. Please contact the association."
	case errors.Is(err, legacy.ErrPasswordExpired):
		return http.StatusOK, "Your password has expired. Please contact the association."
	}
	return http.StatusOK, "The user name or password is incorrect."
}

func (s *Simulator) renderMessage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	p := s.newPage(r, title)
	if status >= 400 {
		p.Error = msg
	} else {
		p.Message = msg
	}
	s.render(w, r, status, "message", p)
}

// sso is the page holding the Single Sign-On iPart.
func (s *Simulator) sso(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	clientID := queryValue(r, "client")
	var c *ClientApp
	if clientID == "" {
		c = &s.cfg.Clients[0]
	} else if c = s.clients[clientID]; c == nil {
		s.renderMessage(w, r, http.StatusNotFound, "Single Sign-On", "This Single Sign-On link names an unknown client application.")
		return
	}
	sess, ok := s.sessionOf(r)
	if !ok {
		http.Redirect(w, r, s.LoginURL(s.SSOURL(clientID)), http.StatusFound)
		return
	}
	if r.Method == http.MethodHead {
		s.render(w, r, http.StatusOK, "message", s.newPage(r, "Single Sign-On"))
		return
	}
	tok, _, err := s.store.newGrant(sess.login, c.ClientID, c.RefreshTokenLifetime)
	if err != nil {
		s.renderMessage(w, r, http.StatusServiceUnavailable, "Single Sign-On", "The site is busy. Please try again later.")
		return
	}
	s.log.InfoContext(ctx, "SSO hand-off: refresh token issued", slog.String("login", sess.login), slog.String("client_id", c.ClientID))
	p := s.newPage(r, "Single Sign-On")
	p.PostURL = c.LoginRedirectURL
	p.RefreshToken = tok
	p.ClientName = c.Name
	s.render(w, r, http.StatusOK, "sso", p)
}

// logout ends the AMS session, then redirects to an allowed returnurl.
func (s *Simulator) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if sess, ok := s.store.endSession(c.Value); ok {
			s.log.InfoContext(r.Context(), "signed out", slog.String("login", sess.login))
		}
	}
	http.SetCookie(w, s.cookie(SessionCookie, "", -1, http.SameSiteLaxMode))
	raw := queryValue(r, "returnurl")
	if raw != "" {
		if target, ok := s.logoutReturn(raw); ok {
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		s.log.WarnContext(r.Context(), "logout: returnurl not allowed; not redirecting")
	}
	p := s.newPage(r, "Signed out")
	p.SignedIn = false
	p.Message = "You have signed out."
	if raw != "" {
		p.Message += " (The address to return to is not on this site's allow-list, so you stay here.)"
	}
	p.LoginURL = s.LoginURL("")
	s.render(w, r, http.StatusOK, "message", p)
}

func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout").Parse(layoutHTML))
	pages := map[string]*template.Template{}
	for name, body := range map[string]string{"login": loginHTML, "home": homeHTML, "sso": ssoHTML, "message": messageHTML} {
		pages[name] = template.Must(template.Must(layout.Clone()).Parse(body))
	}
	return pages
}
