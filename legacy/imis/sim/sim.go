package sim

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

// Faults make the token endpoint misbehave, for tests of the client's failure handling.
// The zero value is a healthy endpoint. They are applied in field order.
type Faults struct {
	// Delay holds every token answer back this long (or until the client gives up).
	Delay time.Duration
	// HangUp closes the connection without answering.
	HangUp bool
	// Status answers with this HTTP status and an IIS-style HTML error page.
	Status int
	// Garbage answers HTTP 200 with a body that is not JSON.
	Garbage bool
}

// Simulator is the simulated AMS website: an http.Handler. It is safe for concurrent use.
type Simulator struct {
	cfg     Config
	base    string
	clients map[string]*ClientApp
	origins map[string]bool // allowed logout return origins
	store   *store
	log     *slog.Logger
	pages   map[string]*template.Template

	mu     sync.Mutex
	faults Faults
}

// New returns a Simulator. It panics if cfg is invalid (Config.Validate reports why): the
// configuration is the program's, not a member's input.
func New(cfg Config) *Simulator {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("sim.New: invalid configuration: %v", err))
	}
	cfg = cfg.withDefaults()
	s := &Simulator{
		cfg:     cfg,
		base:    cfg.BasePath,
		clients: map[string]*ClientApp{},
		origins: map[string]bool{},
		store:   newStore(cfg.Now),
		log:     cfg.Logger.With(slog.String("component", "imis/sim")),
		pages:   parsePages(),
	}
	for i := range s.cfg.Clients {
		c := &s.cfg.Clients[i]
		s.clients[c.ClientID] = c
		o, _ := origin(c.LoginRedirectURL) // validated
		s.origins[o] = true
	}
	for _, raw := range cfg.AllowedReturnOrigins {
		o, _ := origin(raw) // validated
		s.origins[o] = true
	}
	return s
}

// SetFaults replaces the token endpoint's faults (the zero Faults heals it).
func (s *Simulator) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

func (s *Simulator) currentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// IssueRefreshToken issues a refresh token for login and the client application as the SSO
// iPart would, without a browser: for tests.
func (s *Simulator) IssueRefreshToken(login, clientID string) (string, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return "", fmt.Errorf("imis/sim: unknown client application %q", clientID)
	}
	if strings.TrimSpace(login) == "" {
		return "", errors.New("imis/sim: empty login")
	}
	tok, _, err := s.store.newGrant(login, c.ClientID, c.RefreshTokenLifetime)
	return tok, err
}

// NewSessionCookie signs login in without the login form (for tests) and returns the
// session cookie to send.
func (s *Simulator) NewSessionCookie(login string) (*http.Cookie, error) {
	if strings.TrimSpace(login) == "" {
		return nil, errors.New("imis/sim: empty login")
	}
	id, err := s.store.newSession(login, login, s.cfg.SessionLifetime)
	if err != nil {
		return nil, err
	}
	return s.cookie(SessionCookie, id, s.cfg.SessionLifetime, http.SameSiteLaxMode), nil
}

// SignedIn reports who is signed in to the AMS on request r.
func (s *Simulator) SignedIn(r *http.Request) (login string, ok bool) {
	sess, ok := s.sessionOf(r)
	return sess.login, ok
}

func (s *Simulator) sessionOf(r *http.Request) (session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return session{}, false
	}
	return s.store.session(c.Value)
}

// URL helpers: paths (with BasePath) of the simulator's pages.

// HomeURL is the path of the home page.
func (s *Simulator) HomeURL() string { return s.base + HomePath }

// TokenURL is the path of the token endpoint.
func (s *Simulator) TokenURL() string { return s.base + TokenPath }

// LoginURL is the path of the login page, returning to returnURL (a path) afterwards.
func (s *Simulator) LoginURL(returnURL string) string {
	if returnURL == "" {
		return s.base + LoginPath
	}
	return s.base + LoginPath + "?ReturnUrl=" + url.QueryEscape(returnURL)
}

// LogoutURL is the path of the logout URL, returning to returnURL afterwards if allowed.
func (s *Simulator) LogoutURL(returnURL string) string {
	if returnURL == "" {
		return s.base + LogoutPath
	}
	return s.base + LogoutPath + "?returnurl=" + url.QueryEscape(returnURL)
}

// SSOURL is the path of the page with the SSO iPart for clientID ("" = the first client).
func (s *Simulator) SSOURL(clientID string) string {
	if clientID == "" {
		return s.base + SSOPath
	}
	return s.base + SSOPath + "?client=" + url.QueryEscape(clientID)
}

// ServeHTTP routes a request whose path starts with BasePath.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.base)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		s.notFound(w, r)
		return
	}
	if rest == "" {
		http.Redirect(w, r, s.HomeURL(), http.StatusFound)
		return
	}
	switch strings.ToLower(rest) {
	case HomePath, "/default.aspx":
		s.onlyGET(w, r, s.home)
	case strings.ToLower(LoginPath):
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.loginPage(w, r)
		case http.MethodPost:
			s.loginSubmit(w, r)
		default:
			methodNotAllowed(w, "GET, HEAD, POST")
		}
	case strings.ToLower(LogoutPath):
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
			methodNotAllowed(w, "GET, HEAD, POST")
			return
		}
		s.logout(w, r)
	case SSOPath:
		s.onlyGET(w, r, s.sso)
	case TokenPath:
		s.token(w, r)
	default:
		s.notFound(w, r)
	}
}

func (s *Simulator) onlyGET(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	h(w, r)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
}

// cookie builds one of the simulator's cookies, scoped to BasePath.
func (s *Simulator) cookie(name, value string, life time.Duration, same http.SameSite) *http.Cookie {
	p := s.base
	if p == "" {
		p = "/"
	}
	c := &http.Cookie{Name: name, Value: value, Path: p, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: same}
	switch {
	case life > 0:
		c.MaxAge = int(life / time.Second)
	case life < 0: // delete
		c.MaxAge = -1
	} // 0: a browser-session cookie
	return c
}

// localReturn accepts a ReturnUrl only if it is a clean relative path below BasePath, and
// returns it as path?query.
func (s *Simulator) localReturn(raw string) (string, bool) {
	if raw == "" || len(raw) > 2048 || strings.ContainsFunc(raw, func(r rune) bool { return isControl(r) || r == '\\' }) {
		return "", false
	}
	if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if clean != u.Path {
		return "", false
	}
	if s.base != "" && u.Path != s.base && !strings.HasPrefix(u.Path, s.base+"/") {
		return "", false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.RequestURI(), true
}

// logoutReturn accepts a local ReturnUrl or an absolute URL with an allowed origin.
func (s *Simulator) logoutReturn(raw string) (string, bool) {
	if local, ok := s.localReturn(raw); ok {
		return local, true
	}
	if len(raw) > 2048 || strings.ContainsFunc(raw, func(r rune) bool { return isControl(r) || r == '\\' }) {
		return "", false
	}
	o, err := origin(raw)
	if err != nil || !s.origins[o] {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// queryValue reads a query parameter case-insensitively, as ASP.NET does.
func queryValue(r *http.Request, name string) string {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
