package saml

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// slo is the IdP's single logout service. An SP's LogoutRequest (signed, HTTP-Redirect or
// HTTP-POST binding) naming the member of this browser's session ends that session as
// RP-initiated logout does: the OIDC apps get their back-channel and front-channel logouts, the
// session's other SAML SPs their LogoutRequests (SOAP, or the browser chain), and the SP its
// LogoutResponse, at the end of the chain. An SP's LogoutResponse is the answer to a step of
// the chain (chainResponse).
func (h *Handler) slo(c echo.Context) error {
	r := c.Request()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return h.sloRefused(c, "malformed request", err)
		}
	}
	if r.URL.Query().Get("SAMLResponse") != "" || r.PostForm.Get("SAMLResponse") != "" {
		// An SP's answer to the front-channel chain's LogoutRequest. With HTTP-POST it is a
		// cross-site POST, without the chain's SameSite=Lax cookie: posted again from here.
		if r.Method == http.MethodPost && r.URL.Query().Get(sloResent) == "" && h.Logouts.loadChain(c) == nil {
			return h.resendLogoutRequest(c, r.PostForm)
		}
		return h.chainResponse(c)
	}
	ctx := r.Context()
	if r.Method == http.MethodPost && r.URL.Query().Get(sloResent) == "" {
		// An SP's HTTP-POST LogoutRequest is a cross-site POST, on which browsers do not send
		// the SameSite=Lax session cookie: without it this browser's session would look gone,
		// and the SP would be told it ended while it lives on. The browser posts the message
		// again from this origin (once), and then the cookie comes with it.
		if _, err := h.Cookies.Current(c); errors.Is(err, sso.ErrNotFound) {
			return h.resendLogoutRequest(c, r.PostForm)
		}
	}
	idp, err := h.idp(ctx)
	if err != nil {
		return err
	}
	// An SP refused for sign-ins since it was registered can still end its member's session
	// here and get its answer (Registry.ForLogout), as it is still sent theirs.
	idp.ServiceProviderProvider = libraryProvider{r: h.Registry, logout: true}
	lreq, err := h.newLogoutRequest(ctx, idp, r)
	if err != nil {
		return h.sloRefused(c, "malformed request", err)
	}
	if err := lreq.Validate(); err != nil {
		return h.sloRefused(c, refusal(err), err)
	}
	// Validate accepts only a LogoutRequest signed by the SP (a query string, SimpleSign or
	// enveloped XML signature over what it then reads): an unsigned one fails above. (An
	// enveloped signature is not in lreq.Request, which is read from what it covers.)
	sp, err := h.Registry.ForLogout(ctx, lreq.ServiceProviderMetadata.EntityID)
	if err != nil {
		return h.sloRefused(c, "unknown service provider", err)
	}
	preferRedirect(lreq)
	// untold: the answer cannot go where the SP asks for it (plain http on another host without
	// its allow_insecure_soap_slo); the sign-out is done all the same, and the member told.
	untold := secureAnswerEndpoint(lreq, sp)

	sess, err := h.Cookies.Current(c)
	if err != nil && !errors.Is(err, sso.ErrNotFound) {
		return err
	}
	status := crewjam.StatusSuccess
	if sess != nil {
		ps, err := h.Store.SAMLParticipants(ctx, sess.ID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ps, func(p *store.SAMLParticipant) bool { return matches(lreq, sp, p) }) {
			// Not this browser's member at that SP: nothing here is ended.
			status, sess = crewjam.StatusRequester, nil
		}
	}
	if sess == nil && untold != nil {
		if status != crewjam.StatusSuccess {
			// Not this browser's member there: nothing is ended, and no answer can be sent.
			return h.sloRefused(c, "the app's single logout service is not secure (plain http)", untold)
		}
		return h.answerUntold(c, sp, nil, nil, untold) // through the AMS website's sign-out
	}
	if sess == nil {
		if status == crewjam.StatusSuccess {
			// No session of this browser (it expired, or ended elsewhere) while the SP still
			// signs its member out: the AMS website's session would sign them back in to every
			// app, so the sign-out goes through it, as end_session does for an app that names its
			// member (id_token_hint). The SP's request is signed and single-use, but an
			// HTTP-Redirect request is a URL: whoever holds an unused one (their own, from an SP
			// they signed out of without following the redirect) can make another browser follow
			// it within its lifetime and sign that browser out of the AMS website, once. The same
			// holds for end_session with an id_token_hint; README says so.
			return h.answerSignedOff(c, lreq, sp, status, nil, nil)
		}
		return h.writeAnswer(c, lreq, status, nil)
	}
	// The SP that asked is answered below, not sent a back-channel LogoutRequest.
	if err := h.EndSession(exceptSP(ctx, sp.EntityID), sess); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if err := h.Cookies.Clear(c); err != nil {
		return err
	}
	others, err := h.Store.TakeSAMLParticipants(ctx, sess.ID)
	if err != nil {
		return err
	}
	others = slices.DeleteFunc(others, func(p *store.SAMLParticipant) bool { return p.SP == sp.EntityID })
	h.Audit.Write(ctx, &store.AuditEvent{Event: "logout", Subject: sess.Subject, ClientID: sp.Settings.ID, IP: c.RealIP(),
		Detail: fmt.Sprintf("saml single logout; %d apps", len(sess.Clients)+len(others)+1)})
	if untold != nil {
		return h.answerUntold(c, sp, sess, others, untold)
	}
	return h.answerSignedOff(c, lreq, sp, status, sess, others)
}

// newLogoutRequest reads an SP's LogoutRequest from r for idp, whose Validate records the
// request's id per SP (replayCache.logout: a LogoutRequest validated by an IdP without it is
// refused, its id having no SP to be recorded under), and while the upgrade from a version
// before session 22 may have left its id recorded under the library's key looks it up there
// too (replayCache.unqualified, Handler.unqualifiedLogoutKeys).
func (h *Handler) newLogoutRequest(ctx context.Context, idp *crewjam.IdentityProvider, r *http.Request) (*crewjam.IdpLogoutRequest, error) {
	lreq, err := crewjam.NewIdpLogoutRequest(idp, r)
	if err != nil {
		return nil, err
	}
	idp.ReplayCache = replayCache{ctx: ctx, store: h.Store, logout: lreq, unqualified: func() bool { return h.unqualifiedLogoutKeys(ctx) }}
	return lreq, nil
}

// answerSignedOff answers an SP's LogoutRequest once the sign-out is done everywhere: the
// session's other SPs with browser bindings are visited first (the chain), then the AMS
// website's sign-out (single sign-off, as for RP-initiated logout: otherwise its session signs
// the member straight back in through the hand-off), and the answer to this SP ends the chain;
// the OIDC apps' front-channel logouts come before. sess is the session that ended (nil: none
// of this browser). Only when no chain can carry the answer (no single logout service of the
// SP, an oversized RelayState, no sealer) is it answered at once.
func (h *Handler) answerSignedOff(c echo.Context, lreq *crewjam.IdpLogoutRequest, sp *SP, status string, sess *sso.Session, others []*store.SAMLParticipant) error {
	if lreq.SLOEndpoint != nil && len(lreq.RelayState) <= maxAnswerRelayState {
		answer := &chainAnswer{SP: sp.EntityID, ID: lreq.Request.ID, RelayState: lreq.RelayState, Status: status, Endpoint: *lreq.SLOEndpoint}
		subject, sessionID := "", ""
		if sess != nil {
			subject, sessionID = sess.Subject, sess.ID
		}
		next := PathSLONext
		if h.SignOff != nil {
			next = h.SignOff(c.Request().Context(), sessionID, next)
		}
		// With a sign-off to go through, the chain carries the answer even when no other SP is
		// to be visited.
		if start := h.Logouts.startChain(c, others, subject, "", answer, next != PathSLONext); start == PathSLONext {
			if sess == nil {
				return c.Redirect(http.StatusSeeOther, next)
			}
			return h.SignedOut(c, sess, "", next, nil, nil)
		}
	}
	return h.writeAnswer(c, lreq, status, sess)
}

// writeAnswer answers an SP's LogoutRequest with status: a redirect (through the signed-out page
// when sess ended, for the OIDC apps' front-channel logouts) or the HTTP-POST form page.
func (h *Handler) writeAnswer(c echo.Context, lreq *crewjam.IdpLogoutRequest, status string, sess *sso.Session) error {
	return h.writeResponse(c, lreq, lreq.MakeLogoutResponse(status), sess)
}

// writeResponse sends resp, a LogoutResponse to lreq, as writeAnswer does.
func (h *Handler) writeResponse(c echo.Context, lreq *crewjam.IdpLogoutRequest, resp *crewjam.LogoutResponse, sess *sso.Session) error {
	var w captureWriter
	if err := lreq.WriteLogoutResponse(&w, resp); err != nil {
		return fmt.Errorf("saml logout response: %w", err)
	}
	if loc := w.Header().Get("Location"); loc != "" {
		if sess != nil {
			return h.SignedOut(c, sess, "", loc, nil, nil)
		}
		return c.Redirect(http.StatusSeeOther, loc)
	}
	// HTTP-POST binding: the form page.
	for k, v := range w.Header() {
		c.Response().Header()[k] = v
	}
	return c.HTMLBlob(http.StatusOK, w.body.Bytes())
}

// sloResent marks (query parameter) an HTTP-POST LogoutRequest posted again from this origin.
const sloResent = "resent"

// resendLogoutRequest answers a cross-site HTTP-POST LogoutRequest with a page that posts the
// same fields to the single logout service again, now same-site (static/saml.js submits it).
func (h *Handler) resendLogoutRequest(c echo.Context, form url.Values) error {
	type field struct{ Name, Value string }
	var fields []field
	for _, name := range []string{"SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature"} {
		if vs := form[name]; len(vs) == 1 {
			fields = append(fields, field{name, vs[0]})
		} else if len(vs) > 1 {
			return h.sloRefused(c, "malformed request", fmt.Errorf("repeated field %s", name))
		}
	}
	var b bytes.Buffer
	if err := resendFormTemplate.Execute(&b, struct {
		URL    string
		Fields []field
	}{PathSLO + "?" + sloResent + "=1", fields}); err != nil {
		return fmt.Errorf("saml logout resend page: %w", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, b.Bytes())
}

// resendFormTemplate posts a LogoutRequest's fields to the single logout service again.
var resendFormTemplate = template.Must(template.New("saml-resend").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">` +
	`<title>Continue</title><link rel="stylesheet" href="/static/style.css"></head><body><main class="card">` +
	`<form method="post" action="{{.URL}}" id="saml-post">{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}` +
	`<p>Signing you out…</p><button type="submit" class="primary">Continue</button></form>` +
	`<script src="/static/saml.js"></script></main></body></html>`))

func (h *Handler) sloRefused(c echo.Context, reason string, err error) error {
	ctx := c.Request().Context()
	h.Logger.WarnContext(ctx, "saml logout request refused", "reason", reason, "err", err)
	h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "saml.logout_refused", IP: c.RealIP(), Detail: reason})
	return h.Pages.Error(c, http.StatusBadRequest, "This sign-out request cannot be used",
		"The app that sent you here made a sign-out request we cannot accept ("+reason+"), so nothing was signed out.",
		"To sign out, use the sign-out button of your account page.")
}

// matches reports whether a LogoutRequest from sp names participant p: the same SP, NameID
// and, when the request names sessions, one of them.
func matches(lreq *crewjam.IdpLogoutRequest, sp *SP, p *store.SAMLParticipant) bool {
	if p.SP != sp.EntityID || lreq.Request.NameID == nil || lreq.Request.NameID.Value != p.NameID {
		return false
	}
	idx := lreq.Request.AllSessionIndexes()
	return len(idx) == 0 || slices.ContainsFunc(idx, func(s crewjam.SessionIndex) bool { return s.Value == p.SessionIndex })
}

// preferRedirect answers with the HTTP-Redirect binding when the SP has it: the response is
// then a URL the chain (or the signed-out page) ends on.
func preferRedirect(lreq *crewjam.IdpLogoutRequest) {
	if lreq.SLOEndpoint == nil || lreq.SLOEndpoint.Binding == crewjam.HTTPRedirectBinding {
		return
	}
	for _, d := range lreq.ServiceProviderMetadata.SPSSODescriptors {
		for _, ep := range d.SingleLogoutServices {
			if ep.Binding == crewjam.HTTPRedirectBinding && ep.Location != "" {
				ep := ep
				lreq.SLOEndpoint = &ep
				return
			}
		}
	}
}

// Logouts tells the SAML SPs of an ended session: those with a SOAP single logout service on
// the back channel (BackChannel), the others through the browser when the sign-out goes through
// it (Chain). It is built before the sign-out page (logout.Handler) and the IdP's web part,
// which both use it.
type Logouts struct {
	Store    Store
	Registry *Registry
	Keys     *KeyRing
	// Issuer is the bridge's issuer URL (the IdP's entity id is Issuer + PathMetadata).
	Issuer string
	// Sealer seals the front-channel chain's cookie; Secure makes it Secure and __Host- (an
	// https issuer).
	Sealer Sealer
	Secure bool
	Logger *slog.Logger
	Now    func() time.Time
	// Audit, when set, records each SP a sign-out through the browser does not visit
	// (logout.untold: insecureBrowserSLO); nil: logged only.
	Audit func(ctx context.Context, e *store.AuditEvent)
}

func (l *Logouts) entityID() string { return strings.TrimSuffix(l.Issuer, "/") + PathMetadata }

// captureWriter keeps what the library writes (a redirect's Location, a form page).
type captureWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *captureWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}
func (w *captureWriter) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *captureWriter) WriteHeader(code int)        { w.code = code }

// postFormTemplate is the library's form for HTTP-POST LogoutResponses: static/saml.js submits
// it (the pages' Content-Security-Policy allows no inline script).
var postFormTemplate = template.Must(template.New("saml-post").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">` +
	`<title>Continue</title><link rel="stylesheet" href="/static/style.css"></head><body><main class="card">` +
	`<form method="post" action="{{.URL}}" id="saml-post"><input type="hidden" name="SAMLResponse" value="{{.SAMLResponse}}">` +
	`{{if .RelayState}}<input type="hidden" name="RelayState" value="{{.RelayState}}">{{end}}` +
	`<p>Signing you out of the app…</p><button type="submit" class="primary">Continue</button></form>` +
	`<script src="/static/saml.js"></script></main></body></html>`))
