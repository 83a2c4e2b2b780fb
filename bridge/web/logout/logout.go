package logout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of sign-out.
const (
	Path       = "/logout"
	PathDone   = "/logout/done"
	PathReturn = "/logout/return" // where the AMS website's sign-out returns to
	PathAMS    = "/logout/ams"    // the link back from the AMS website's sign-out
)

// sealPurpose keeps logout tickets apart from every other sealed value.
const sealPurpose = identity.PurposeLogout

// ticketLifetime bounds how long a logout ticket opens.
const ticketLifetime = 10 * time.Minute

// Ticket carries a validated end_session request to the logout page. It is sealed, so the
// redirect inside cannot be forged (no open redirect).
type Ticket struct {
	Redirect string `json:"r"`
	ClientID string `json:"c,omitempty"`
	Subject  string `json:"s,omitempty"` // from a verified id_token_hint
	// SID is the verified id_token_hint's sid: the session it was issued in ("" none).
	SID     string    `json:"i,omitempty"`
	Expires time.Time `json:"e"`
}

// SignOff is the AMS website's sign-out page (single sign-off): the URL that signs the member
// out there and sends the browser on to returnURL; ok is false when there is none.
type SignOff interface {
	LogoutURL(returnURL string) (u string, ok bool)
}

// Clients finds registered clients.
type Clients interface {
	Client(ctx context.Context, id string) (*sso.ClientConfig, error)
}

// Handler serves /logout, /logout/done and /logout/return.
type Handler struct {
	Pages   *web.Renderer
	Cookies *session.Cookies
	Sealer  *identity.Sealer
	Clients Clients
	Issuer  string
	// EndSession ends an SSO session and queues its back-channel logouts in one transaction.
	EndSession func(context.Context, *sso.Session) error
	// PublicSID is the sid the session's apps know it by.
	PublicSID func(sessionID string) string
	Audit     func(context.Context, *store.AuditEvent)
	// SignOff, when set, is the AMS website's sign-out, through which sign-out goes on.
	SignOff SignOff
	// FromAMS reports whether a request came from a page of the AMS website (nil: none does).
	FromAMS func(*http.Request) bool
	// UpstreamSignOff, when set, is the sign-out URL at the upstream provider the session was
	// signed in through (RP-initiated logout there), returning to returnURL with state; ok is
	// false when there is none (not signed in upstream, or the provider does not end sessions).
	UpstreamSignOff func(ctx context.Context, sessionID, returnURL, state string) (u string, ok bool)
	// Chain, when set, sends the browser through the other protocols' apps the ended session
	// signed into before it goes on to next (the SAML SPs' front-channel single logout): it
	// returns where that starts, or next when there is nothing to visit. next "" ends on the
	// signed-out page.
	Chain func(c echo.Context, sess *sso.Session, next string) string
	// Resume, when set, is where a sign-out chain of this browser that has not ended goes on
	// ("" when none): the signed-out page sends a member who left the chain (an app that did not
	// answer, the back button) back into it.
	Resume func(c echo.Context) string
	Now    func() time.Time
}

// Mount adds the sign-out routes. HEAD (RFC 9110 9.3.2: GET without the body) is routed where
// end_session's HEAD leads (its redirect to Path) and the GETs that only read and redirect
// (PathDone, PathReturn); a HEAD never signs anyone out, and Path's answers it without
// acting (head). PathAMS refuses HEAD: its GET ends the session when it comes from the AMS
// website.
func (h *Handler) Mount(e *echo.Echo) {
	e.GET(Path, h.page)
	e.HEAD(Path, h.head)
	e.POST(Path, h.submit)
	e.GET(PathDone, h.done)
	e.HEAD(PathDone, h.done)
	e.GET(PathReturn, h.returned)
	e.HEAD(PathReturn, h.returned)
	e.GET(PathAMS, h.fromAMS)
}

// TicketURL is where end_session sends the browser after op validated the request (sso.Hooks).
func (h *Handler) TicketURL(req *op.EndSessionRequest) (string, error) {
	t := Ticket{Redirect: req.RedirectURI, ClientID: req.ClientID, Subject: req.UserID}
	if req.IDTokenHintClaims != nil {
		t.SID = req.IDTokenHintClaims.SessionID
	}
	sealed, err := h.SealTicket(t)
	if err != nil {
		return "", err
	}
	return Path + "?t=" + url.QueryEscape(sealed), nil
}

// SealTicket seals t, expiring after ticketLifetime (t.Expires is set).
func (h *Handler) SealTicket(t Ticket) (string, error) {
	t.Expires = h.Now().Add(ticketLifetime)
	return h.Sealer.Seal(sealPurpose, t)
}

// OpenTicket opens a ticket sealed by SealTicket that has not expired.
func (h *Handler) OpenTicket(raw string) (*Ticket, error) {
	var t Ticket
	if err := h.Sealer.Unseal(sealPurpose, raw, &t); err != nil {
		return nil, err
	}
	if h.Now().After(t.Expires) {
		return nil, errors.New("ticket expired")
	}
	return &t, nil
}

// Data is the logout page's data.
type Data struct {
	web.Page
	Done                     bool
	CSRF, Ticket, ClientName string
	Cancel, Continue         string
	FrontChannel             []string
}

// page: with a ticket whose verified ID token was issued in this browser's session (its sid,
// and its subject), sign out at once; otherwise ask for confirmation. RP-Initiated Logout 1.0
// section 2: the OP MUST ask when there is no id_token_hint or when it "does not belong to the
// current OP session with the RP": an ID token of an earlier or another browser's session of
// the same member (kept by an app, or leaked from it) does not sign this session out silently.
func (h *Handler) page(c echo.Context) error { return h.answer(c, true) }

// head answers HEAD Path as GET would up to where GET acts, and acts on nothing (RFC 9110
// 9.3.2, 9.2.1: a safe method): a ticket that does not open is 400, a browser without a session
// gets GET's redirect (GET ends nothing there either), and a browser with one gets the sign-out
// page, 200, whatever its ticket, as GET renders it (the same length: its CSRF token is made
// without the cookie, which a HEAD's answer never sets: session.Cookies): where GET would
// sign it out at once, HEAD neither ends the session nor sets a cookie. A client following
// end_session's HEAD redirect with HEAD (curl -I -L, a link checker) learns that the page is
// there, and the member stays signed in; the same ticket's GET signs them out afterwards.
func (h *Handler) head(c echo.Context) error { return h.answer(c, false) }

// answer is page (act: GET) and head (HEAD, !act).
func (h *Handler) answer(c echo.Context, act bool) error {
	raw := c.QueryParam("t")
	t, terr := h.OpenTicket(raw)
	if raw != "" && terr != nil {
		return h.Pages.Error(c, http.StatusBadRequest, "This sign-out link has expired",
			"The sign-out link is no longer valid.", "If you want to sign out, go back to the app and sign out again.")
	}
	sess, err := h.Cookies.Current(c)
	if err != nil && !errors.Is(err, sso.ErrNotFound) {
		return err
	}
	if sess == nil {
		if t != nil {
			next := t.Redirect
			if t.Subject != "" {
				// No bridge session any more (it expired, or ended without this browser), but
				// the app that signs its member out (it holds their ID token) still signs them
				// out of the AMS website: its session there would sign them back in to every
				// app through the hand-off. A request without id_token_hint does not, so a
				// cross-site link without an ID token cannot sign anyone out of the AMS website;
				// one with an ID token (anyone's own) can sign the browser that follows it out of
				// the AMS website, once: what an AMS logout link could do anyway (README).
				next = h.signOffURL(next)
			}
			return c.Redirect(http.StatusSeeOther, next)
		}
		return c.Redirect(http.StatusSeeOther, PathDone)
	}
	if act && t != nil && t.Subject != "" && t.Subject == sess.Subject && t.SID != "" && h.PublicSID != nil && t.SID == h.PublicSID(sess.ID) {
		return h.signOut(c, sess, t)
	}
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	d := Data{Page: h.Pages.Base("Sign out"), CSRF: csrf, Ticket: raw}
	if t != nil {
		d.ClientName = web.ClientName(c.Request().Context(), h.Clients, t.ClientID)
	}
	return h.Pages.Render(c, http.StatusOK, "logout", d)
}

func (h *Handler) submit(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	t, _ := h.OpenTicket(c.FormValue("t"))
	sess, err := h.Cookies.Current(c)
	if err != nil {
		// The session ended meanwhile: the member asked to sign out (this form, CSRF checked),
		// so the AMS website's sign-out still follows.
		next := PathDone
		if t != nil && t.Redirect != "" {
			next = t.Redirect
		}
		return c.Redirect(http.StatusSeeOther, h.signOffURL(next))
	}
	return h.signOut(c, sess, t)
}

// signOut ends the SSO session and sends the browser on.
func (h *Handler) signOut(c echo.Context, sess *sso.Session, t *Ticket) error {
	ctx := c.Request().Context()
	// Ends the session and queues back-channel logouts in one transaction; delivery is async.
	if err := h.EndSession(ctx, sess); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if err := h.Cookies.Clear(c); err != nil {
		return err
	}
	clientID := ""
	if t != nil {
		clientID = t.ClientID
	}
	h.Audit(ctx, &store.AuditEvent{Event: "logout", Subject: sess.Subject, ClientID: clientID, IP: c.RealIP(), Detail: fmt.Sprintf("%d apps", len(sess.Clients))})
	next := PathDone
	if t != nil && t.Redirect != "" {
		next = t.Redirect
	}
	return h.SignedOut(c, sess, clientID, h.SignOffURL(ctx, sess.ID, next))
}

// SignOffURL is single sign-off for a sign-out through the browser that ended the session
// sessionID (or found it ended already, ""): next wrapped in the AMS website's sign-out, which
// returns to it, and in the upstream provider's when the session was signed in there. The SAML
// single logout service uses it for an SP's own LogoutRequest.
func (h *Handler) SignOffURL(ctx context.Context, sessionID, next string) string {
	next = h.signOffURL(next)
	if sessionID == "" {
		return next
	}
	return h.upstreamSignOffURL(ctx, sessionID, next)
}

// SignedOut sends the browser of an ended session on to next: at once, or when some of the
// session's clients registered Front-Channel Logout 1.0, through the signed-out page that loads
// their logout pages in frames and then goes on (next "" stays on that page); the SAML SPs'
// chain (Chain) comes between that page and next.
func (h *Handler) SignedOut(c echo.Context, sess *sso.Session, clientID, next string) error {
	if h.Chain != nil {
		next = h.Chain(c, sess, next)
	}
	return h.SignedOutWith(c, sess, clientID, next, nil, nil)
}

// SignedOutWith is SignedOut with the other protocols' front-channel logout URLs (and their
// origins) given rather than asked of FrontChannel.
func (h *Handler) SignedOutWith(c echo.Context, sess *sso.Session, clientID, next string, frames, frameOrigins []string) error {
	urls, origins := h.frontChannelLogouts(c.Request().Context(), sess.ID, sess.Clients)
	urls = append(urls, frames...)
	for _, o := range frameOrigins {
		if !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	if len(urls) == 0 {
		if next == "" {
			next = PathDone
		}
		return c.Redirect(http.StatusSeeOther, next)
	}
	allowFrames(c.Response().Header(), origins)
	d := Data{Page: h.Pages.Base("Signed out"), Done: true, FrontChannel: urls,
		ClientName: web.ClientName(c.Request().Context(), h.Clients, clientID)}
	if next != "" {
		// Go on by itself: static/logout.js once the frames have loaded, this header after a
		// few seconds for browsers without scripts (neither is an inline script).
		c.Response().Header().Set("Refresh", "5; url="+next)
		d.Continue = next
	}
	return h.Pages.Render(c, http.StatusOK, "logout", d)
}

// fromAMS is the link back from the AMS website's sign-out: it ends the bridge session. A GET
// from anywhere but the AMS website (judged by Origin or Referer), or one that is not a
// top-level navigation (an <img> or iframe on an AMS page), is confirmed on a page first, so
// neither a cross-site link nor a subresource of an AMS page can sign the member out.
func (h *Handler) fromAMS(c echo.Context) error {
	ctx := c.Request().Context()
	sess, err := h.Cookies.Current(c)
	if err == nil && (h.FromAMS == nil || !h.FromAMS(c.Request()) || !topLevelNavigation(c.Request())) {
		csrf, err := h.Cookies.CSRFToken(c)
		if err != nil {
			return err
		}
		return h.Pages.Render(c, http.StatusOK, "logout", Data{Page: h.Pages.Base("Sign out"), CSRF: csrf})
	}
	if err != nil {
		if err := h.Cookies.Clear(c); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, PathDone)
	}
	if err := h.EndSession(ctx, sess); err != nil {
		return err
	}
	if err := h.Cookies.Clear(c); err != nil {
		return err
	}
	h.Audit(ctx, &store.AuditEvent{Event: "logout", Subject: sess.Subject, IP: c.RealIP(), Detail: "from the AMS website"})
	return h.SignedOut(c, sess, "", "")
}

// topLevelNavigation reports whether r may be a top-level navigation, as the browser's Fetch
// Metadata headers say: Sec-Fetch-Mode, when sent, must be "navigate" and Sec-Fetch-Dest, when
// sent, "document" (an iframe's "iframe" does not count: its page is not the member's). The
// AMS website is usually same-site with the bridge, so the session cookie goes with an <img>
// on its pages (one a member can put in a forum post or profile) and its Referer is the
// website's. Browsers without Fetch Metadata send neither header and count as navigations.
func topLevelNavigation(r *http.Request) bool {
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" && m != "navigate" {
		return false
	}
	if d := r.Header.Get("Sec-Fetch-Dest"); d != "" && d != "document" {
		return false
	}
	return true
}

func (h *Handler) done(c echo.Context) error {
	if h.Resume != nil {
		if u := h.Resume(c); u != "" {
			return c.Redirect(http.StatusSeeOther, u)
		}
	}
	return h.Pages.Render(c, http.StatusOK, "logout", Data{Page: h.Pages.Base("Signed out"), Done: true})
}

// signOffURL wraps the final logout redirect in the AMS's sign-out URL (single sign-off). The
// AMS returns to /logout/return with the already validated target sealed, so neither hop can be
// turned into an open redirect (iMIS does not validate returnurl itself).
func (h *Handler) signOffURL(next string) string {
	if h.SignOff == nil {
		return next
	}
	sealed, err := h.SealTicket(Ticket{Redirect: next})
	if err != nil {
		return next
	}
	u, ok := h.SignOff.LogoutURL(h.Issuer + PathReturn + "?t=" + url.QueryEscape(sealed))
	if !ok {
		return next
	}
	return u
}

// upstreamSignOffURL wraps the logout redirect in the upstream provider's sign-out (see
// UpstreamSignOff): the provider returns to /logout/return with the sealed target as its state.
func (h *Handler) upstreamSignOffURL(ctx context.Context, sessionID, next string) string {
	if h.UpstreamSignOff == nil {
		return next
	}
	sealed, err := h.SealTicket(Ticket{Redirect: next})
	if err != nil {
		return next
	}
	u, ok := h.UpstreamSignOff(ctx, sessionID, h.Issuer+PathReturn, sealed)
	if !ok {
		return next
	}
	return u
}

// returned finishes single sign-off: back from the AMS (t) or from an upstream provider
// (state, RP-initiated logout), on to the sealed target.
func (h *Handler) returned(c echo.Context) error {
	raw := c.QueryParam("t")
	if raw == "" {
		raw = c.QueryParam("state")
	}
	t, err := h.OpenTicket(raw)
	if err != nil || t.Redirect == "" {
		return c.Redirect(http.StatusSeeOther, PathDone)
	}
	return c.Redirect(http.StatusSeeOther, t.Redirect)
}

// frontChannelLogouts returns the Front-Channel Logout 1.0 URLs (with iss and sid) of the
// session's clients that registered one, and their origins for the page's frame-src.
func (h *Handler) frontChannelLogouts(ctx context.Context, sid string, clients []string) (urls, origins []string) {
	for _, id := range clients {
		c, err := h.Clients.Client(ctx, id)
		if err != nil || c.FrontchannelLogoutURI == "" {
			continue
		}
		u, err := url.Parse(c.FrontchannelLogoutURI)
		if err != nil {
			continue
		}
		q := u.Query()
		q.Set("iss", h.Issuer)
		q.Set("sid", h.PublicSID(sid))
		u.RawQuery = q.Encode()
		urls = append(urls, u.String())
		if o := u.Scheme + "://" + u.Host; !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return urls, origins
}

// allowFrames widens this response's Content-Security-Policy to frame the given origins (the
// front-channel logout page only).
func allowFrames(h http.Header, origins []string) {
	csp := h.Get("Content-Security-Policy")
	h.Set("Content-Security-Policy", strings.Replace(csp, "default-src 'none';",
		"default-src 'none'; frame-src "+strings.Join(origins, " ")+";", 1))
}
