package authflow

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// A password sign-in that goes straight on to its app (no consent page, no second factor, no
// refusal) writes its session, its login.success audit row and the completion of the request
// in one store transaction (store.SignInStore) instead of four. Until then the session is a
// freshSession kept with the request: every other way out of Finish writes it first (open), so
// what is stored at each of those steps is what it was with the separate writes.

// freshKey is where the echo context keeps the request's freshSession.
const freshKey = "authflow.fresh"

// freshSession is a new SSO session not written yet.
type freshSession struct {
	sess  *sso.Session
	raw   string            // the cookie's session id
	audit *store.AuditEvent // login.success
	open  bool              // written, and the cookie set
}

// startFreshSession is StartSession without the write: the session is written by the
// completion of the request (completeFresh) or by openFresh, whichever comes first. ev is the
// sign-in's audit row (its Subject is set here).
func (h *Handler) startFreshSession(c echo.Context, m *legacy.Member, amr []string, ev *store.AuditEvent) (*sso.Session, error) {
	sess, raw, err := h.newSession(c, m, amr)
	if err != nil {
		return nil, err
	}
	ev.Subject = sess.Subject
	c.Set(freshKey, &freshSession{sess: sess, raw: raw, audit: ev})
	return sess, nil
}

// fresh returns the request's session not written yet (nil: none, or written).
func fresh(c echo.Context) *freshSession {
	f, _ := c.Get(freshKey).(*freshSession)
	if f == nil || f.open {
		return nil
	}
	return f
}

// openFresh writes the request's fresh session (and its audit row) and sets the cookie, as
// StartSession and the audit write did; it does nothing when there is none.
func (h *Handler) openFresh(c echo.Context) error {
	f := fresh(c)
	if f == nil {
		return nil
	}
	if err := h.writeSession(c, f.sess, f.raw); err != nil {
		return err
	}
	f.open = true
	h.Audit.Write(c.Request().Context(), f.audit)
	return nil
}

// openFreshOr is openFresh before a way out that returns err: err, or the write's failure.
func (h *Handler) openFreshOr(c echo.Context, err error) error {
	if oerr := h.openFresh(c); oerr != nil {
		return errors.Join(err, oerr)
	}
	return err
}

// completeFresh completes ar with the request's fresh session and its authorization code in one
// transaction and sends the browser straight on to the app with the code; the caller has made
// every check complete makes. The code is the one op's callback would have issued next (the
// browser that completed the request, with the session it has just been given, collecting it),
// so that hop is left out: the request is completed once, by the browser it is bound to, and
// its code exists only if that completion committed.
func (h *Handler) completeFresh(c echo.Context, f *freshSession, ar *sso.AuthRequest, completion sso.Completion) error {
	ctx := c.Request().Context()
	code, err := h.Provider.NewCode(ar)
	if err != nil {
		return h.openFreshOr(c, err)
	}
	h.Audit.Prepare(ctx, f.audit)
	err = h.Store.CompleteSignIn(ctx, &store.SignIn{Session: f.sess, Audit: f.audit, RequestID: ar.ID,
		Completion: completion, RequestClient: ar.ClientID, CodeHash: code.Hash, CodeExpires: code.ExpiresAt})
	if err != nil && !errors.Is(err, sso.ErrAuthRequestUsed) && !errors.Is(err, sso.ErrAuthRequestElsewhere) && !errors.Is(err, sso.ErrNotFound) {
		h.Audit.WriteFailed(ctx, f.audit, err)
		return fmt.Errorf("complete sign-in: %w", err)
	}
	// The session and the audit row are written, whether the request was completed or not.
	f.open = true
	if err != nil {
		// The request was not pending any more: most often the same form submitted twice at
		// once (a double-click), the other submission having completed it with its own session
		// and put that in this browser's cookie. This session answers nothing: it is ended at
		// once and not put in the cookie, or the browser could end up holding it while the
		// winner's session, the one its app is signed in with, outlived the browser's sign-out.
		// Nobody ever held its id (it never left this process).
		if eerr := h.EndSession(ctx, f.sess); eerr != nil {
			return fmt.Errorf("end the session of a sign-in that lost its request: %w", eerr)
		}
		return h.RequestStateError(c, ar, nil, err)
	}
	if cerr := h.Cookies.Set(c, f.raw); cerr != nil {
		return fmt.Errorf("save cookie: %w", cerr)
	}
	return c.Redirect(http.StatusSeeOther, code.RedirectURL)
}
