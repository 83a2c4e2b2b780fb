package saml

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	crewjam "github.com/crewjam/saml"
	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// PathSLOUntold is the page that ends a sign-out started by an SP's own LogoutRequest that the
// SP could not be answered (insecureAnswer): the member is signed out here, and told that the
// app was not. ?sp= names the SP by its id (only a registered SP's name is shown).
const PathSLOUntold = "/saml/slo/untold"

// answerLocation is where a LogoutResponse to ep goes: its ResponseLocation, else its Location
// (SAML metadata 2.2.2).
func answerLocation(ep crewjam.Endpoint) string {
	if ep.ResponseLocation != "" {
		return ep.ResponseLocation
	}
	return ep.Location
}

// insecureAnswer says why the LogoutResponse to sp's own LogoutRequest is not sent to ep (the
// single logout service chosen for it): the address it goes to is plain http on another host
// than this machine, and sp's allow_insecure_soap_slo does not allow it. It is the rule of the
// browser chain (insecureBrowserSLO, fca7d1a) for the answer: the bridge does not send the
// member's browser, with a message of the sign-in service, over plain http to another host; the
// SAML bindings (3.4.5.2, 3.5.5.2) ask for TLS on these exchanges. Only an SP registered before
// session 19's rules (refused for sign-ins since: Registry.ForLogout) can have such a service.
// Nil: send it.
func insecureAnswer(sp *SP, ep *crewjam.Endpoint) error {
	if ep == nil || sp.Settings.AllowInsecureSOAPSLO {
		return nil
	}
	loc := answerLocation(*ep)
	if err := config.CheckSAMLEndpoint(loc); err != nil {
		return fmt.Errorf("its single logout service %q %w; allow_insecure_soap_slo allows it", loc, err)
	}
	return nil
}

// secureAnswerEndpoint points lreq.SLOEndpoint at a browser single logout service of the SP that
// insecureAnswer lets the answer go to (HTTP-Redirect first), when the one chosen is not; it
// returns insecureAnswer's error when the SP has none.
func secureAnswerEndpoint(lreq *crewjam.IdpLogoutRequest, sp *SP) error {
	why := insecureAnswer(sp, lreq.SLOEndpoint)
	if why == nil {
		return nil
	}
	for _, binding := range []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding} {
		for _, d := range lreq.ServiceProviderMetadata.SPSSODescriptors {
			for _, ep := range d.SingleLogoutServices {
				if ep.Binding == binding && ep.Location != "" && insecureAnswer(sp, &ep) == nil {
					lreq.SLOEndpoint = &ep
					return nil
				}
			}
		}
	}
	return why
}

// answerUntold ends an SP's own LogoutRequest that the SP cannot be answered (why:
// insecureAnswer). The sign-out it asked for is done as any other (the caller ended sess, nil
// when this browser had none); the session's other SPs are visited through the browser chain,
// the AMS website signs the member out too, and the member ends on PathSLOUntold, which says
// that the app was not told. It is logged and audited as logout.untold, as the browser chain's
// SPs left untold are.
func (h *Handler) answerUntold(c echo.Context, sp *SP, sess *sso.Session, others []*store.SAMLParticipant, why error) error {
	ctx := c.Request().Context()
	subject, sessionID := "", ""
	if sess != nil {
		subject, sessionID = sess.Subject, sess.ID
	}
	h.Logouts.untoldWhat(ctx, subject, sp, "its LogoutResponse (the answer to its own LogoutRequest)", why)
	next := PathSLOUntold + "?sp=" + url.QueryEscape(sp.Settings.ID)
	if sess != nil {
		next = h.Logouts.startChain(c, others, subject, next, nil, false)
	}
	if h.SignOff != nil {
		next = h.SignOff(ctx, sessionID, next)
	}
	if sess == nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return h.SignedOut(c, sess, "", next, nil, nil)
}

// sloUntold is PathSLOUntold's page. It changes nothing (GET and HEAD).
func (h *Handler) sloUntold(c echo.Context) error {
	name := "The app you signed out of"
	if id := c.QueryParam("sp"); id != "" {
		if sp := h.spForLogoutByID(c.Request().Context(), id); sp != nil {
			name = sp.Name()
		}
	}
	return h.Pages.Error(c, http.StatusOK, "You are signed out here, but not of the app",
		name+" asked to sign you out, and you are signed out of this sign-in service. The app was not told: its sign-out address is not secure (plain http), and this service does not send you there.",
		"You may still be signed in to "+name+": sign out there again, or close your browser. Please tell the association that the app's sign-out does not work.")
}

// spForLogoutByID is the SP of id as single logout finds it (one refused for sign-ins too:
// ForLogout); nil when none.
func (h *Handler) spForLogoutByID(ctx context.Context, id string) *SP {
	sp, err := h.Registry.ByID(ctx, id)
	if err == nil {
		return sp
	}
	var u *UnusableError
	if errors.As(err, &u) && u.SP.logout != nil {
		return u.SP.logout
	}
	return nil
}
