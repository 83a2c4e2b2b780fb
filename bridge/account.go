package bridge

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/sso"
)

type accountData struct {
	pageData
	Name, Login, Email, MemberID, SignedInAt, Method string
	Apps                                             []string
}

// account shows the member who they are, as the bridge sees them, and the apps of the session.
func (s *Server) account(c echo.Context) error {
	sess, err := s.currentSession(c)
	if errors.Is(err, sso.ErrNotFound) {
		return s.errorPage(c, http.StatusUnauthorized, "You are not signed in",
			"Open one of the association's apps or the member website to sign in.", "")
	}
	if err != nil {
		return err
	}
	m, err := s.sessionMember(c.Request().Context(), sess)
	if err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			_ = s.store.EndSession(c.Request().Context(), sess.ID)
			return s.errorPage(c, http.StatusForbidden, "Your account cannot be used", "Your membership account can no longer sign in. Please contact the association.", "")
		}
		return s.amsError(c, err)
	}
	d := accountData{pageData: s.base("Your account"), Name: m.FullName, Login: m.Login, Email: m.Email, MemberID: m.MemberID,
		SignedInAt: sess.AuthTime.Format("2 Jan 2006 15:04 MST"), Method: "password"}
	if strings.Join(sess.AMR, ",") == "ams" {
		d.Method = "from the member website"
	}
	for _, id := range sess.Clients {
		name := s.clientName(c, id)
		if name == "" {
			name = id
		}
		d.Apps = append(d.Apps, name)
	}
	return s.render(c, http.StatusOK, "account", d)
}
