package bridge

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

type accountApp struct{ ID, Name string }

type accountConsent struct {
	ID, Name string
	Scopes   []string
}

type accountData struct {
	pageData
	CSRF, Name, Login, Email, MemberID, SignedInAt, Method, Notice string
	Apps                                                           []accountApp
	Consents                                                       []accountConsent
}

// account shows members who they are, as the bridge sees them, the apps they are signed into
// and the apps they consented to, with sign-out per app or everywhere and consent withdrawal.
func (s *Server) account(c echo.Context) error {
	ctx := c.Request().Context()
	sess, err := s.cookies.Current(c)
	if errors.Is(err, sso.ErrNotFound) {
		return s.errorPage(c, http.StatusUnauthorized, "You are not signed in",
			"Open one of the association's apps or the member website to sign in.", "")
	}
	if err != nil {
		return err
	}
	m, err := s.sessionMember(ctx, sess)
	if err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			if err := s.shadow.EndSession(ctx, sess); err != nil {
				return err
			}
			return s.errorPage(c, http.StatusForbidden, "Your account cannot be used", "Your membership account can no longer sign in. Please contact the association.", "")
		}
		return s.amsError(c, err)
	}
	csrf, err := s.cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	d := accountData{pageData: s.base("Your account"), CSRF: csrf, Name: m.FullName, Login: m.Login, Email: m.Email, MemberID: m.MemberID,
		SignedInAt: sess.AuthTime.Format("2 Jan 2006 15:04 MST"), Method: "password", Notice: c.QueryParam("done")}
	if strings.Join(sess.AMR, ",") == "ams" {
		d.Method = "from the member website"
	}
	for _, id := range sess.Clients {
		name := s.clientName(c, id)
		if name == "" {
			name = id
		}
		d.Apps = append(d.Apps, accountApp{id, name})
	}
	consents, err := s.store.Consents(ctx, sess.Subject)
	if err != nil {
		return fmt.Errorf("list consents: %w", err)
	}
	for _, cs := range consents {
		name := s.clientName(c, cs.ClientID)
		if name == "" {
			name = cs.ClientID
		}
		var titles []string
		for _, sd := range s.policy.DescribeScopes(cs.ClientID, cs.Scopes) {
			titles = append(titles, sd.Title)
		}
		d.Consents = append(d.Consents, accountConsent{cs.ClientID, name, titles})
	}
	return s.render(c, http.StatusOK, "account", d)
}

// accountAction handles the account page's forms: withdraw a consent, sign out of one app.
func (s *Server) accountAction(c echo.Context) error {
	if err := s.cookies.CheckCSRF(c); err != nil {
		return s.cookies.CSRFFailed(c)
	}
	ctx := c.Request().Context()
	sess, err := s.cookies.Current(c)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	clientID := c.FormValue("client")
	if clientID == "" || len(clientID) > 128 {
		return s.errorPage(c, http.StatusBadRequest, "Nothing to do", "No app was chosen.", "")
	}
	switch c.FormValue("action") {
	case "withdraw":
		if err := s.store.DeleteConsent(ctx, sess.Subject, clientID); err != nil {
			return fmt.Errorf("withdraw consent: %w", err)
		}
		n, err := s.provider.RevokeGrants(ctx, sess.Subject, clientID)
		if err != nil {
			return fmt.Errorf("revoke grants: %w", err)
		}
		s.audit(ctx, &store.AuditEvent{Event: "consent.withdrawn", Subject: sess.Subject, ClientID: clientID, IP: c.RealIP(),
			Detail: fmt.Sprintf("%d token families revoked", n)})
		return c.Redirect(http.StatusSeeOther, "/account?done=withdrawn")
	case "signout":
		if !slices.Contains(sess.Clients, clientID) {
			return c.Redirect(http.StatusSeeOther, "/account")
		}
		n, err := s.provider.RevokeGrants(ctx, sess.Subject, clientID)
		if err != nil {
			return fmt.Errorf("revoke grants: %w", err)
		}
		s.audit(ctx, &store.AuditEvent{Event: "logout.app", Subject: sess.Subject, ClientID: clientID, IP: c.RealIP(),
			Detail: fmt.Sprintf("%d token families revoked", n)})
		return c.Redirect(http.StatusSeeOther, "/account?done=signedout")
	}
	return s.errorPage(c, http.StatusBadRequest, "Nothing to do", "That action is not known.", "")
}
