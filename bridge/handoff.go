package bridge

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/bridge/web/logout"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of the hand-off.
const (
	PathHandoff         = "/handoff/imis"
	PathHandoffContinue = "/handoff/continue"
	PathHandoffStart    = "/handoff/start"
	PathHandoffConfirm  = "/handoff/confirm"
	PathAMSLogout       = logout.PathAMS
	// ExchangeTokenTypeAMS is the RFC 8693 subject_token_type for an AMS refresh token.
	ExchangeTokenTypeAMS = "urn:ssobridge:params:oauth:token-type:ams_refresh_token"
)

// setupAMS takes the AMS connector's optional capabilities: the website's hand-off (also RFC
// 8693 token exchange), its sign-out URL (single sign-off) and pages of its own to mount (the
// demo's simulated website under /demo-ams).
func (s *Server) setupAMS(conn legacy.Connector) {
	if conn == nil {
		return
	}
	if h, ok := conn.(legacy.HandoffExchanger); ok {
		s.exchanger, s.website = h, h.Website()
	}
	if l, ok := conn.(legacy.LogoutURLer); ok {
		s.signOff = l
	}
	if p, ok := conn.(legacy.PageServer); ok {
		s.pagesPrefix, s.amsPages = p.Pages()
	}
}

// handoffTicket is the exchanged AMS identity between the iPart POST and the same-site GET
// that can read this browser's cookie. It is sealed (AES-GCM) and single-use.
type handoffTicket struct {
	MemberKey string    `json:"k"`
	UserName  string    `json:"u"`
	Nonce     string    `json:"n"`
	Expires   time.Time `json:"e"`
	// Confirm: the POST's origin was opaque (Origin: null, a page with Referrer-Policy
	// no-referrer), so the member confirms on a page naming the account (Name) first.
	Confirm bool   `json:"c,omitempty"`
	Name    string `json:"f,omitempty"`
}

// handoffReplayWindow is how long the hash of an AMS token the AMS refused is kept.
const handoffReplayWindow = 5 * time.Minute

// maxAMSToken bounds the refresh_token field (iMIS sends 32 hex characters).
const maxAMSToken = 512

// handoff receives the SSO iPart's POST. The POST is cross-site, so the browser's SameSite=Lax
// cookie is not sent with it: the token is exchanged here, once, and the browser continues with
// a same-site GET that carries the cookie.
func (s *Server) handoff(c echo.Context) error {
	ctx := c.Request().Context()
	ip := c.RealIP()
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, 16<<10)
	token := c.FormValue("refresh_token")
	fail := func(status int, reason, heading, msg string) error {
		s.auditAnonymous(ctx, &store.AuditEvent{Event: "handoff.failure", IP: ip, Detail: reason})
		return s.errorPage(c, status, heading, msg, "Go back to the member website and try again, or sign in here with your username and password.")
	}
	if s.exchanger == nil {
		return fail(http.StatusNotFound, "not_configured", "Sign-in from the member website is not set up", "This sign-in service is not connected to a member website.")
	}
	// Login CSRF: the iPart's form posts from the AMS website. Browsers send Origin with a
	// cross-site form POST; another site's origin is refused. An opaque origin ("null": the AMS
	// page may have Referrer-Policy no-referrer) is not refused, but the member confirms on a
	// page naming the account before any session is created.
	origin := c.Request().Header.Get("Origin")
	if origin != "" && origin != "null" && !s.amsOrigin(origin) {
		return fail(http.StatusForbidden, "foreign_origin", "This sign-in did not come from the member website", "The sign-in request was sent from another site, so we did not act on it.")
	}
	if token == "" || len(token) > maxAMSToken || strings.ContainsAny(token, " \t\r\n\x00") {
		return fail(http.StatusBadRequest, "bad_request", "This sign-in link is not valid", "The member website did not send a usable sign-in token.")
	}
	m, err := s.exchangeAMSToken(ctx, token)
	if err != nil {
		return s.handoffError(c, err, ip)
	}
	t := handoffTicket{MemberKey: m.Key, UserName: m.Login, Nonce: sso.RandomToken(), Expires: s.now().Add(2 * time.Minute),
		Confirm: origin == "null", Name: memberLabel(m)}
	sealed, err := s.seal(sealHandoff, t)
	if err != nil {
		return err
	}
	// Bind the ticket to this browser: the continue link works only where the POST happened.
	// On https the name is __Host- prefixed (Secure, Path=/, no Domain), as the session cookie:
	// a sibling subdomain cannot plant the nonce of its own ticket in a member's browser.
	name, path := s.handoffCookieName(), "/handoff"
	if s.issuer.Scheme == "https" {
		path = "/"
	}
	http.SetCookie(c.Response(), &http.Cookie{Name: name, Value: t.Nonce, Path: path, MaxAge: 300,
		HttpOnly: true, Secure: s.issuer.Scheme == "https", SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, PathHandoffContinue+"?h="+url.QueryEscape(sealed))
}

// handoffCookie binds a hand-off ticket to the browser that received the iPart's POST.
const handoffCookie = "ssobridge_handoff"

// fromAMS reports whether a request came from a page of the AMS website: its Origin, or else
// the origin of its Referer.
func (s *Server) fromAMS(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return s.amsOrigin(o)
	}
	ref, err := url.Parse(r.Header.Get("Referer"))
	if err != nil || ref.Host == "" {
		return false
	}
	return s.amsOrigin(ref.Scheme + "://" + ref.Host)
}

// amsOrigin reports whether origin is the AMS website's (base URL or SSO page).
func (s *Server) amsOrigin(origin string) bool {
	for _, o := range s.website.Origins {
		if strings.EqualFold(origin, o) {
			return true
		}
	}
	return false
}

// handoffCookieName is the hand-off cookie's name: __Host- prefixed on https.
func (s *Server) handoffCookieName() string {
	if s.issuer.Scheme == "https" {
		return "__Host-" + handoffCookie
	}
	return handoffCookie
}

// handoffBrowser checks that this browser received the ticket's POST.
func (s *Server) handoffBrowser(c echo.Context, t *handoffTicket) bool {
	ck, err := c.Cookie(s.handoffCookieName())
	return err == nil && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(t.Nonce)) == 1
}

// exchangeAMSToken redeems an AMS refresh token exactly once and returns the member, who must
// be allowed to sign in.
func (s *Server) exchangeAMSToken(ctx context.Context, token string) (*legacy.Member, error) {
	if err := s.store.UseHandoffToken(ctx, sso.HashToken(token), s.now().Add(24*time.Hour)); err != nil {
		if errors.Is(err, sso.ErrConflict) {
			return nil, errHandoffReplay
		}
		return nil, err
	}
	login, err := s.exchanger.ExchangeHandoff(ctx, token)
	if err != nil {
		// The AMS did not take it: keep its hash only for the replay window (a double submit),
		// not for a day, so junk tokens do not pile up.
		if serr := s.store.ShortenHandoffToken(ctx, sso.HashToken(token), s.now().Add(handoffReplayWindow)); serr != nil {
			s.log.WarnContext(ctx, "shorten hand-off token guard", "err", serr)
		}
		return nil, err
	}
	m, err := s.dir.MemberByLogin(ctx, login)
	if err != nil {
		if errors.Is(err, legacy.ErrNotFound) {
			return nil, fmt.Errorf("%w: AMS user %q is not in the directory", errHandoffUnknownUser, login)
		}
		return nil, err
	}
	if d := s.access.Decide(ctx, m, "", access.AnyClient, s.now()); !d.Allowed() {
		return nil, d.Cause
	}
	return m, nil
}

var (
	errHandoffReplay      = errors.New("hand-off token already used")
	errHandoffUnknownUser = errors.New("hand-off user unknown to the directory")
)

func (s *Server) handoffError(c echo.Context, err error, ip string) error {
	ctx := c.Request().Context()
	reason, status := "error", http.StatusBadGateway
	heading, msg := "We could not sign you in from the member website", "Something went wrong while checking your sign-in with the member website."
	switch {
	case errors.Is(err, errHandoffReplay):
		reason, status, msg = "replayed", http.StatusBadRequest, "This sign-in link was already used. Each link from the member website works once."
	case errors.Is(err, legacy.ErrHandoffRefused):
		reason, status, msg = "invalid_grant", http.StatusBadRequest, "Your sign-in on the member website has expired or is not valid any more."
	case errors.Is(err, legacy.ErrHandoffClient):
		reason, status, msg = "invalid_client", http.StatusBadGateway, "This sign-in service is not registered correctly with the member website. Please tell the association."
	case errors.Is(err, errHandoffUnknownUser):
		reason, status, msg = "unknown_user", http.StatusForbidden, "Your member website account is not linked to a member record we can use."
	case errors.Is(err, legacy.ErrUnavailable):
		reason, status, heading, msg = "ams_unavailable", http.StatusServiceUnavailable, "Membership system unavailable", "We cannot reach the member website or the membership system right now. Please try again in a few minutes."
	default:
		if r := legacy.Reason(err); r != "error" {
			reason, status, msg = r, http.StatusForbidden, authflow.LoginMessage(err)
		}
	}
	if reason == "ams_unavailable" || reason == "invalid_client" || reason == "error" {
		// Operator trouble: the cause goes to the log (the audit line has only the reason).
		s.log.ErrorContext(ctx, "hand-off failed", "reason", reason, "err", err)
	}
	s.auditAnonymous(ctx, &store.AuditEvent{Event: "handoff.failure", IP: ip, Detail: reason})
	return s.errorPage(c, status, heading, msg, "Go back to the member website and try again, or sign in here with your username and password.")
}

func (s *Server) openHandoff(raw string) (*handoffTicket, error) {
	var t handoffTicket
	if err := s.unseal(sealHandoff, raw, &t); err != nil {
		return nil, err
	}
	if s.now().After(t.Expires) {
		return nil, errors.New("expired")
	}
	return &t, nil
}

type handoffConfirmData struct {
	pageData
	CSRF, Ticket, Current, Next string
}

// handoffContinue runs in the browser's own site context: it sees the SSO session and the
// pending auth request. A hand-off never silently replaces another member's session.
func (s *Server) handoffContinue(c echo.Context) error {
	t, err := s.openHandoff(c.QueryParam("h"))
	if err == nil && !s.handoffBrowser(c, t) {
		s.auditAnonymous(c.Request().Context(), &store.AuditEvent{Event: "handoff.failure", IP: c.RealIP(), Detail: "other_browser"})
		err = errors.New("hand-off ticket opened in another browser")
	}
	if err != nil {
		return s.errorPage(c, http.StatusBadRequest, "This sign-in link has expired", "The sign-in from the member website took too long or was already used.", "Go back to the member website and try again.")
	}
	ctx := c.Request().Context()
	sub := s.subjects.Subject(t.MemberKey)
	if cur, err := s.cookies.Current(c); err == nil && cur.Subject != sub {
		csrf, err := s.cookies.CSRFToken(c)
		if err != nil {
			return err
		}
		curName := "another member"
		if key, err := s.subjects.MemberKey(ctx, cur.Subject); err == nil {
			if m, err := s.dir.MemberByKey(ctx, key); err == nil {
				curName = m.FullName + " (" + m.Login + ")"
			}
		}
		return s.render(c, http.StatusOK, "handoff", handoffConfirmData{pageData: s.base("Switch member?"), CSRF: csrf,
			Ticket: c.QueryParam("h"), Current: curName, Next: t.UserName})
	}
	if t.Confirm {
		if cur, err := s.cookies.Current(c); err != nil || cur.Subject != sub {
			csrf, err := s.cookies.CSRFToken(c)
			if err != nil {
				return err
			}
			return s.render(c, http.StatusOK, "handoff", handoffConfirmData{pageData: s.base("Continue as " + t.Name + "?"), CSRF: csrf,
				Ticket: c.QueryParam("h"), Next: t.Name})
		}
	}
	return s.completeHandoff(c, t)
}

// memberLabel names a member on confirmation pages: "Alice Anders (alice)".
func memberLabel(m *legacy.Member) string {
	if m.FullName == "" {
		return m.Login
	}
	return m.FullName + " (" + m.Login + ")"
}

// handoffInfo answers a GET or HEAD of the hand-off URL (iMIS may probe it when the content
// item is saved): 200 with a short explanation.
func (s *Server) handoffInfo(c echo.Context) error {
	return s.render(c, http.StatusOK, "error", errorData{Page: s.base("Sign-in from the member website"),
		Heading: "Sign-in from the member website",
		Message: "This address receives sign-ins from the member website (its single sign-on part sends them here). There is nothing to see when it is opened directly.",
		Hint:    "To sign in, open the app you want to use, or sign in on the member website."})
}

func (s *Server) handoffConfirm(c echo.Context) error {
	if err := s.cookies.CheckCSRF(c); err != nil {
		return s.cookies.CSRFFailed(c)
	}
	t, err := s.openHandoff(c.FormValue("t"))
	if err != nil || !s.handoffBrowser(c, t) {
		return s.errorPage(c, http.StatusBadRequest, "This sign-in link has expired", "The sign-in from the member website took too long or was already used.", "Go back to the member website and try again.")
	}
	if c.FormValue("decision") != "switch" {
		if _, err := s.cookies.Current(c); err != nil {
			return s.render(c, http.StatusOK, "error", errorData{Page: s.base("Not signed in"), Heading: "You were not signed in",
				Message: "Nothing was changed: the sign-in from the member website was cancelled.",
				Hint:    "To sign in, open the app you want to use, or sign in on the member website."})
		}
		return s.continueAfterSignIn(c, nil)
	}
	return s.completeHandoff(c, t)
}

// completeHandoff consumes the ticket and opens (or keeps) the member's session.
func (s *Server) completeHandoff(c echo.Context, t *handoffTicket) error {
	ctx := c.Request().Context()
	if err := s.store.UseHandoffToken(ctx, sso.HashToken("ticket:"+t.Nonce), t.Expires.Add(time.Hour)); err != nil {
		if errors.Is(err, sso.ErrConflict) {
			return s.handoffError(c, errHandoffReplay, c.RealIP())
		}
		return err
	}
	m, err := s.dir.MemberByKey(ctx, t.MemberKey)
	if err != nil {
		return s.handoffError(c, err, c.RealIP())
	}
	sess, err := s.cookies.Current(c)
	if err != nil || sess.Subject != s.subjects.Subject(m.Key) {
		if sess, err = s.flow.StartSession(c, m, []string{"ams"}); err != nil {
			return err
		}
	}
	s.audit(ctx, &store.AuditEvent{Event: "login.success", Subject: sess.Subject, Login: m.Login, IP: c.RealIP(), Detail: "ams hand-off"})
	return s.continueAfterSignIn(c, sess)
}

// continueAfterSignIn resumes the browser's pending auth request, else the default app, else
// the account page.
func (s *Server) continueAfterSignIn(c echo.Context, sess *sso.Session) error {
	pending, err := s.cookies.TakePending(c)
	if err != nil {
		return err
	}
	if pending != "" {
		if ar, client, _ := s.pendingRequestQuiet(c.Request().Context(), pending); ar != nil && sess != nil {
			// Only a request still pending, and bound to this browser, is finished here.
			if err := s.flow.ClaimRequest(c, ar); err != nil {
				return s.flow.RequestStateError(c, ar, client, err)
			}
			m, err := s.flow.Member(c.Request().Context(), sess)
			if err != nil {
				return s.pages.MembershipUnavailable(c, s.log, err)
			}
			return s.flow.Finish(c, ar, client, sess, m)
		}
	}
	if id := s.cfg.AMS.DefaultClient; id != "" {
		if cl, err := s.provider.Client(c.Request().Context(), id); err == nil && cl.InitiateLoginURI != "" {
			return c.Redirect(http.StatusSeeOther, cl.InitiateLoginURI+"?iss="+url.QueryEscape(s.cfg.Issuer))
		}
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}

func (s *Server) pendingRequestQuiet(ctx context.Context, id string) (*sso.AuthRequest, *sso.ClientConfig, error) {
	ar, err := s.provider.AuthRequest(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	cl, err := s.provider.Client(ctx, ar.ClientID)
	if err != nil {
		return nil, nil, err
	}
	return ar, cl, nil
}

// handoffStart remembers the pending auth request and sends the member to the AMS SSO page.
func (s *Server) handoffStart(c echo.Context) error {
	if err := s.cookies.CheckCSRF(c); err != nil {
		return s.cookies.CSRFFailed(c)
	}
	if s.exchanger == nil {
		return s.errorPage(c, http.StatusNotFound, "Not available", "Sign-in with the member website is not set up.", "")
	}
	ar, _, err := s.flow.PendingRequest(c, c.FormValue("id"))
	if ar == nil {
		return err
	}
	if err := s.cookies.SetPending(c, ar.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, s.website.SSOURL)
}

// ExchangeExternal implements RFC 8693 token exchange of an AMS refresh token (sso.ExternalExchanger).
func (h amsExchange) ExchangeExternal(ctx context.Context, clientID, subjectToken, tokenType string) (string, []string, error) {
	s := h.s
	if tokenType != ExchangeTokenTypeAMS || s.exchanger == nil {
		return "", nil, sso.ErrUnsupportedTokenType
	}
	if subjectToken == "" || len(subjectToken) > maxAMSToken {
		return "", nil, fmt.Errorf("%w: bad subject_token", sso.ErrAccessDenied)
	}
	m, err := s.exchangeAMSToken(ctx, subjectToken)
	if err != nil {
		s.audit(ctx, &store.AuditEvent{Event: "token.exchange_failure", ClientID: clientID, Detail: legacy.Reason(err) + ": " + errReason(err)})
		if errors.Is(err, legacy.ErrUnavailable) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("%w: %v", sso.ErrAccessDenied, errReason(err))
	}
	sub, err := s.subjects.Remember(ctx, m.Key, m.Login, s.now())
	if err != nil {
		return "", nil, err
	}
	s.audit(ctx, &store.AuditEvent{Event: "token.exchange", Subject: sub, Login: m.Login, ClientID: clientID, Detail: "ams refresh token"})
	return sub, []string{"ams"}, nil
}

func errReason(err error) string {
	switch {
	case errors.Is(err, errHandoffReplay):
		return "token already used"
	case errors.Is(err, legacy.ErrHandoffRefused):
		return "AMS token invalid or expired"
	case errors.Is(err, errHandoffUnknownUser):
		return "AMS user unknown to the directory"
	}
	return legacy.Reason(err)
}
