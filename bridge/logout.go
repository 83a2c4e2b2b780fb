package bridge

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// logoutTicket carries a validated end_session request to the logout page. It is sealed with
// the provider's AES-GCM key, so the redirect inside cannot be forged (no open redirect).
type logoutTicket struct {
	Redirect string    `json:"r"`
	ClientID string    `json:"c,omitempty"`
	Subject  string    `json:"s,omitempty"` // from a verified id_token_hint
	Expires  time.Time `json:"e"`
}

// logoutTicket is called by end_session (through sso.Hooks) after op validated the request.
func (s *Server) logoutTicket(req *op.EndSessionRequest) (string, error) {
	sealed, err := s.sealTicket(logoutTicket{Redirect: req.RedirectURI, ClientID: req.ClientID, Subject: req.UserID, Expires: s.now().Add(10 * time.Minute)})
	if err != nil {
		return "", err
	}
	return "/logout?t=" + url.QueryEscape(sealed), nil
}

func (s *Server) sealTicket(t logoutTicket) (string, error) {
	return s.seal(sealLogout, t)
}

func (s *Server) openTicket(raw string) (*logoutTicket, error) {
	var t logoutTicket
	if err := s.unseal(sealLogout, raw, &t); err != nil {
		return nil, err
	}
	if s.now().After(t.Expires) {
		return nil, errors.New("ticket expired")
	}
	return &t, nil
}

type logoutData struct {
	pageData
	Done                     bool
	CSRF, Ticket, ClientName string
	Cancel, Continue         string
	FrontChannel             []string
}

func (s *Server) clientName(c echo.Context, id string) string {
	if id == "" {
		return ""
	}
	cl, err := s.provider.Client(c.Request().Context(), id)
	if err != nil {
		return ""
	}
	return cl.Name
}

// logoutPage: with a ticket whose verified subject owns this browser's session, sign out at
// once; otherwise ask for confirmation (RP-initiated logout without id_token_hint).
func (s *Server) logoutPage(c echo.Context) error {
	raw := c.QueryParam("t")
	t, terr := s.openTicket(raw)
	if raw != "" && terr != nil {
		return s.errorPage(c, http.StatusBadRequest, "This sign-out link has expired",
			"The sign-out link is no longer valid.", "If you want to sign out, go back to the app and sign out again.")
	}
	sess, err := s.cookies.Current(c)
	if err != nil && !errors.Is(err, sso.ErrNotFound) {
		return err
	}
	if sess == nil {
		if t != nil {
			return c.Redirect(http.StatusSeeOther, t.Redirect)
		}
		return c.Redirect(http.StatusSeeOther, "/logout/done")
	}
	if t != nil && t.Subject != "" && t.Subject == sess.Subject {
		return s.signOut(c, sess, t)
	}
	csrf, err := s.cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	d := logoutData{pageData: s.base("Sign out"), CSRF: csrf, Ticket: raw}
	if t != nil {
		d.ClientName = s.clientName(c, t.ClientID)
	}
	return s.render(c, http.StatusOK, "logout", d)
}

func (s *Server) logoutSubmit(c echo.Context) error {
	if err := s.cookies.CheckCSRF(c); err != nil {
		return s.cookies.CSRFFailed(c)
	}
	t, _ := s.openTicket(c.FormValue("t"))
	sess, err := s.cookies.Current(c)
	if err != nil {
		if t != nil {
			return c.Redirect(http.StatusSeeOther, t.Redirect)
		}
		return c.Redirect(http.StatusSeeOther, "/logout/done")
	}
	return s.signOut(c, sess, t)
}

// signOut ends the SSO session and sends the browser on.
func (s *Server) signOut(c echo.Context, sess *sso.Session, t *logoutTicket) error {
	ctx := c.Request().Context()
	// Ends the session and queues back-channel logouts in one transaction; delivery is async.
	if err := s.shadow.EndSession(ctx, sess); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if err := s.cookies.Clear(c); err != nil {
		return err
	}
	clientID := ""
	if t != nil {
		clientID = t.ClientID
	}
	s.audit(ctx, &store.AuditEvent{Event: "logout", Subject: sess.Subject, ClientID: clientID, IP: c.RealIP(), Detail: fmt.Sprintf("%d apps", len(sess.Clients))})
	next := "/logout/done"
	if t != nil && t.Redirect != "" {
		next = t.Redirect
	}
	// Single sign-off: through the AMS website's sign-out, which returns to next.
	next = s.amsSignOff(next)
	// Front-channel logout: the apps' logout pages in iframes, then a Continue link.
	if urls, origins := s.frontChannelLogouts(ctx, sess.ID, sess.Clients); len(urls) > 0 {
		allowFrames(c.Response().Header(), origins)
		// Go on by itself: static/logout.js once the frames have loaded, this header after a
		// few seconds for browsers without scripts (neither is an inline script).
		c.Response().Header().Set("Refresh", "5; url="+next)
		return s.render(c, http.StatusOK, "logout", logoutData{pageData: s.base("Signed out"), Done: true,
			ClientName: s.clientName(c, clientID), FrontChannel: urls, Continue: next})
	}
	return c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) logoutDone(c echo.Context) error {
	return s.render(c, http.StatusOK, "logout", logoutData{pageData: s.base("Signed out"), Done: true})
}
