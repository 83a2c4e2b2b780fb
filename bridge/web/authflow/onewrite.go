package authflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

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

// freshSession is a new sign-in's SSO session not written yet: a new session, or the browser's
// session of the same member signed in again (reauth).
type freshSession struct {
	// newSessionData's prev is the browser's live session of another member that this one
	// replaces (nil: none): it ends once this one is written, and only then (a sign-in that
	// loses its request leaves it alone).
	newSessionData
	audit *store.AuditEvent // login.success
	open  bool              // written, and the cookie set
	// upstream is the upstream sign-in recorded with the session when it is written (nil:
	// none); heldAt, when set, is where it is recorded already (a held sign-in), moved then.
	upstream *store.UpstreamSession
	heldAt   string
}

// SignInOptions are what a new sign-in brings besides its member and methods.
type SignInOptions struct {
	// Upstream is the upstream sign-in behind the session (an upstream provider's), recorded
	// with it when the session is written (SessionID and ExpiresAt are set then), so that the
	// provider's back-channel logout ends it. HeldAt, when set, is where it is recorded already
	// (store.HeldSignIn of a waiting step): the record is moved to the session then.
	Upstream *store.UpstreamSession
	HeldAt   string
	// AuthTime is when the member authenticated (OIDC Core 2, auth_time): an upstream
	// provider's auth_time, which may be earlier than this sign-in. Zero, or later than now:
	// now.
	AuthTime time.Time
}

// ErrUpstreamEnded is a held upstream sign-in whose record the provider's back-channel logout
// removed (or that expired) before its session was written: the session is ended (it was
// never put in the cookie), and the member is told (EndedOr, its one answer).
var ErrUpstreamEnded = errors.New("the upstream session ended while the sign-in waited")

// PlaceUpstream records the upstream sign-in behind to (a session's id, or store.HeldSignIn of
// a sign-in waiting at a step) until expires: with from empty, rec is recorded there; else the
// record held under from moves there (rec is not used). ErrUpstreamEnded when the held record
// is gone: the provider's back-channel logout came while the sign-in waited. It is the one
// place every sign-in path records its upstream session (authflow, the second-factor step, the
// upstream callback).
func (h *Handler) PlaceUpstream(ctx context.Context, rec *store.UpstreamSession, from, to string, expires time.Time) error {
	if from != "" {
		err := h.Store.MoveUpstreamSession(ctx, from, to, expires)
		if errors.Is(err, sso.ErrNotFound) {
			return ErrUpstreamEnded
		}
		if err != nil {
			return fmt.Errorf("move upstream sign-in record: %w", err)
		}
		return nil
	}
	r := *rec
	r.SessionID, r.ExpiresAt = to, expires
	if err := h.Store.PutUpstreamSession(ctx, &r); err != nil {
		return fmt.Errorf("record upstream session: %w", err)
	}
	return nil
}

// upstreamOfSession places the upstream record of sess, just written (PlaceUpstream); a held
// record gone meanwhile ends sess at once (ErrUpstreamEnded).
func (h *Handler) upstreamOfSession(ctx context.Context, sess *sso.Session, rec *store.UpstreamSession, heldAt string) error {
	err := h.PlaceUpstream(ctx, rec, heldAt, sess.ID, sess.ExpiresAt)
	if errors.Is(err, ErrUpstreamEnded) {
		if eerr := h.EndSession(ctx, sess); eerr != nil {
			return fmt.Errorf("end the session of an ended upstream sign-in: %w", eerr)
		}
	}
	return err
}

// StartSessionWith is StartSession for a sign-in that brings more (o): an upstream sign-in's
// record is placed with the session, and an earlier auth time used. The cookie is set once the
// session is complete: when the held upstream record is gone (the provider signed the member
// out while the sign-in waited), the session ends at once, the cookie is left as it was, and
// ErrUpstreamEnded is returned (the caller answers it with EndedOr).
func (h *Handler) StartSessionWith(c echo.Context, m *legacy.Member, amr []string, o SignInOptions) (*sso.Session, error) {
	ctx := c.Request().Context()
	ns, err := h.newSession(c, m, amr, o.AuthTime)
	if err != nil {
		return nil, err
	}
	if err := h.endPrevious(ctx, ns.prev); err != nil {
		return nil, err
	}
	if err := h.writeSession(ctx, ns); err != nil {
		return nil, err
	}
	if o.Upstream != nil {
		if err := h.upstreamOfSession(ctx, ns.sess, o.Upstream, o.HeldAt); err != nil {
			return nil, err
		}
	}
	if err := h.putCookie(c, ns); err != nil {
		return nil, err
	}
	return ns.sess, nil
}

// EndedOr answers err, the outcome of a sign-in step: a sign-in whose upstream session ended
// while it waited (ErrUpstreamEnded, wherever it comes from: this flow, the second-factor step,
// the upstream callback) has had any session it wrote ended, never put in the cookie; the
// member sees "This sign-in has ended". It is the one answer to ErrUpstreamEnded. Any other err
// is returned as it is.
func (h *Handler) EndedOr(c echo.Context, err error) error {
	if !errors.Is(err, ErrUpstreamEnded) {
		return err
	}
	h.Logger.InfoContext(c.Request().Context(), "sign-in: the upstream session ended while the sign-in waited; the sign-in ended")
	return h.Pages.Error(c, http.StatusConflict, "This sign-in has ended",
		"You were signed out at the service you signed in with while this step was waiting, so this sign-in cannot go on.",
		"Go back to the app and sign in again.")
}

// HeldLive checks that the upstream sign-in held at (store.HeldSignIn of a waiting step) is
// still recorded: ErrUpstreamEnded when the provider's back-channel logout removed it (or it
// expired).
func (h *Handler) HeldLive(ctx context.Context, at string) error {
	if _, err := h.Store.UpstreamSession(ctx, at); errors.Is(err, sso.ErrNotFound) {
		return ErrUpstreamEnded
	} else if err != nil {
		return fmt.Errorf("held upstream sign-in: %w", err)
	}
	return nil
}

// startFreshSession is StartSession without the write: the session is written by the
// completion of the request (completeFresh) or by openFresh, whichever comes first. ev is the
// sign-in's audit row (its Subject is set here).
func (h *Handler) startFreshSession(c echo.Context, m *legacy.Member, amr []string, ev *store.AuditEvent) (*sso.Session, error) {
	return h.startFreshSessionWith(c, m, amr, ev, SignInOptions{})
}

// startFreshSessionWith is startFreshSession with what the sign-in brings besides (o).
func (h *Handler) startFreshSessionWith(c echo.Context, m *legacy.Member, amr []string, ev *store.AuditEvent, o SignInOptions) (*sso.Session, error) {
	ns, err := h.newSession(c, m, amr, o.AuthTime)
	if err != nil {
		return nil, err
	}
	ev.Subject = ns.sess.Subject
	c.Set(freshKey, &freshSession{newSessionData: *ns, audit: ev, upstream: o.Upstream, heldAt: o.HeldAt})
	return ns.sess, nil
}

// recordUpstream records the upstream sign-in behind f's session, just written (nothing when
// there is none). A held record the provider's logout removed meanwhile ends the session at
// once (ErrUpstreamEnded).
func (h *Handler) recordUpstream(ctx context.Context, f *freshSession) error {
	if f.upstream == nil {
		return nil
	}
	return h.upstreamOfSession(ctx, f.sess, f.upstream, f.heldAt)
}

// dropFresh forgets the request's fresh session: it is never written.
func dropFresh(c echo.Context) { c.Set(freshKey, (*freshSession)(nil)) }

// fresh returns the request's session not written yet (nil: none, or written).
func fresh(c echo.Context) *freshSession {
	f, _ := c.Get(freshKey).(*freshSession)
	if f == nil || f.open {
		return nil
	}
	return f
}

// openFresh writes the request's fresh session (and its audit row) and sets the cookie, as
// StartSession and the audit write did; it does nothing when there is none. A held upstream
// sign-in whose provider signed the member out meanwhile ends the session just written and
// returns ErrUpstreamEnded: the sign-in goes no further (EndedOr answers it).
func (h *Handler) openFresh(c echo.Context) error {
	f := fresh(c)
	if f == nil {
		return nil
	}
	ctx := c.Request().Context()
	if err := h.endPrevious(ctx, f.prev); err != nil {
		return err
	}
	if err := h.writeSession(ctx, &f.newSessionData); err != nil {
		return err
	}
	return h.opened(c, f)
}

// opened goes on with f's session once it is written (openFresh, or as a lost
// re-authentication found or made it: reauthLost): its audit row, its upstream sign-in, and
// only then the cookie (a session its upstream logout ended is never put there).
func (h *Handler) opened(c echo.Context, f *freshSession) error {
	ctx := c.Request().Context()
	f.open = true
	h.Audit.Write(ctx, f.audit)
	if err := h.recordUpstream(ctx, f); err != nil {
		return err
	}
	return h.putCookie(c, &f.newSessionData)
}

// openFreshOr is openFresh before a way out that returns err: err, or the write's failure.
func (h *Handler) openFreshOr(c echo.Context, err error) error {
	if oerr := h.openFresh(c); oerr != nil {
		return errors.Join(err, oerr)
	}
	return err
}

// errReauthLost is completeFresh's answer when its re-authentication of the browser's session
// lost to another (another tab), or found the session ended: the session is taken as the other
// left it, or written anew (reauthLost), and opened, and the request is still to be completed
// with it.
var errReauthLost = errors.New("the session was signed in again by another sign-in first")

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
		Completion: completion, RequestClient: ar.ClientID, CodeHash: code.Hash, CodeExpires: code.ExpiresAt, Reauth: f.reauth})
	if f.reauth != nil && errors.Is(err, sso.ErrConflict) {
		// Another tab signed the session in again first, or it ended: nothing was written. The
		// compare-and-set is not tried again (it would fail the same way): the session is taken
		// as that tab left it, or written anew (reauthLost), opened as any way out opens it,
		// and the request completed with it the usual way.
		if err := h.reauthLost(ctx, &f.newSessionData); err != nil {
			return err
		}
		if err := h.opened(c, f); err != nil {
			return err
		}
		return errReauthLost
	}
	if err != nil && !errors.Is(err, sso.ErrAuthRequestUsed) && !errors.Is(err, sso.ErrAuthRequestElsewhere) && !errors.Is(err, sso.ErrNotFound) {
		h.Audit.WriteFailed(ctx, f.audit, err)
		return fmt.Errorf("complete sign-in: %w", err)
	}
	if err != nil && f.reauth != nil {
		// The request was not pending any more (a form sent again): the session signed in
		// again was not touched (all or nothing), and the browser keeps its cookie.
		dropFresh(c)
		return h.RequestStateError(c, ar, nil, err)
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
	// The request is this sign-in's: the browser's previous session ends now, not before (a
	// sign-in that lost the request, a form sent again after it finished, must not end the
	// session that finished it).
	if eerr := h.endPrevious(ctx, f.prev); eerr != nil {
		h.Logger.ErrorContext(ctx, "sign-in: the browser's previous session could not be ended", "err", eerr)
	}
	if err := h.recordUpstream(ctx, f); err != nil {
		return err // ErrUpstreamEnded: the code is never delivered (EndedOr)
	}
	if err := h.putCookie(c, &f.newSessionData); err != nil {
		return err
	}
	h.Provider.CodeCommitted(ar, completion, code)
	return c.Redirect(http.StatusSeeOther, code.RedirectURL)
}

// A new sign-in that stops before its request is completed writes its session only once no other
// sign-in of the same request can (the session is created after winning a compare-and-set), so
// that a double-click, or a form sent again, leaves no session behind that no browser holds:
//
//   - consent: the sign-in waits at the consent page without a session, held by a one-time
//     record bound to the browser and the request (holdForConsent); the consent passes the hold
//     (compare-and-set) and writes the session with the completion (completeFresh, one
//     transaction, itself a compare-and-set on the request);
//   - a refusal (the client's access rule): the first sign-in of the request to be refused
//     writes its session (the member did sign in, and goes on to other apps with it); a record
//     keyed by the request, created once (CreateMFAChallenge fails on an existing id), says which
//     (openFreshRefused).
//
// Both records live in the store's one-time challenges (store.MFAChallenge) under kinds of their
// own, which no second-factor step or passkey ceremony accepts.

// Kinds of the one-time records of the sign-in flow.
const (
	kindConsentHold = "consent-hold"
	kindRefusal     = "request-refusal"
)

// consentHoldLifetime is how long a sign-in may wait at the consent page.
const consentHoldLifetime = 10 * time.Minute

func consentHoldHash(raw string) string   { return sso.HashToken("consent-hold:" + raw) }
func refusalHash(requestID string) string { return sso.HashToken("request-refusal:" + requestID) }

// holdData is what a consent hold carries besides its fields (its Data, JSON).
type holdData struct {
	// Detail ends the login.success audit row written when the session opens.
	Detail string `json:"detail,omitempty"`
	// Upstream says that an upstream sign-in is recorded as held under the hold
	// (store.HeldSignIn of its id hash), moved to the session when it is written.
	Upstream bool `json:"upstream,omitempty"`
}

// holdForConsent keeps the request's fresh session f (not written) as a consent hold and sends
// the browser to the consent page with it. The session is written by the consent (consentHeld).
func (h *Handler) holdForConsent(c echo.Context, ar *sso.AuthRequest, f *freshSession) error {
	ctx := c.Request().Context()
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return fmt.Errorf("request browser: %w", err)
	}
	data, err := json.Marshal(holdData{Detail: f.audit.Detail, Upstream: f.upstream != nil})
	if err != nil {
		return err
	}
	raw := sso.RandomToken()
	hold := &store.MFAChallenge{IDHash: consentHoldHash(raw), Kind: kindConsentHold, Subject: f.sess.Subject,
		AuthRequestID: ar.ID, Browser: browser, AMR: f.sess.AMR, Data: data,
		CreatedAt: f.sess.AuthTime, ExpiresAt: h.Now().Add(consentHoldLifetime)}
	if f.upstream != nil {
		// The upstream sign-in waits with the hold (its provider's logout ends the wait;
		// ErrUpstreamEnded when it came already).
		if err := h.PlaceUpstream(ctx, f.upstream, f.heldAt, store.HeldSignIn(hold.IDHash), hold.ExpiresAt); err != nil {
			dropFresh(c)
			return fmt.Errorf("hold upstream sign-in for consent: %w", err)
		}
	}
	if err := h.Store.CreateMFAChallenge(ctx, hold); err != nil {
		return fmt.Errorf("hold sign-in for consent: %w", err)
	}
	dropFresh(c)
	return c.Redirect(http.StatusSeeOther, PathConsent+"?id="+url.QueryEscape(ar.ID)+"&h="+url.QueryEscape(raw))
}

// openFreshRefused is openFresh for a sign-in that ar's client refuses: the session is written
// by the first refused sign-in of ar only (a double-click's other submission writes none, and
// shows the same refusal).
func (h *Handler) openFreshRefused(c echo.Context, ar *sso.AuthRequest) error {
	f := fresh(c)
	if f == nil {
		return nil
	}
	now := h.Now()
	expires := ar.ExpiresAt
	if expires.Before(now) {
		expires = now.Add(consentHoldLifetime)
	}
	err := h.Store.CreateMFAChallenge(c.Request().Context(), &store.MFAChallenge{IDHash: refusalHash(ar.ID), Kind: kindRefusal,
		Subject: f.sess.Subject, AuthRequestID: ar.ID, Browser: ar.Browser, CreatedAt: now, ExpiresAt: expires})
	if errors.Is(err, sso.ErrConflict) {
		dropFresh(c)
		return nil
	}
	if err != nil {
		return fmt.Errorf("record refused sign-in: %w", err)
	}
	return h.openFresh(c)
}
