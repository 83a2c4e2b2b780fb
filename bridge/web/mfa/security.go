package mfa

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

type passkeyLine struct {
	ID, Name, Added, LastUsed string
	Synced                    bool
}

type securityData struct {
	web.Page
	CSRF, Error, Notice string
	// Confirm: changes wait for the member to confirm it's them first (reconfirm): "factor"
	// (a step-up with their second factor), "password" (a first factor: their password again),
	// "handoff" (a first factor after the AMS website's hand-off: a new hand-off); "": none.
	Confirm      string
	TOTP         bool
	RecoveryLeft int
	Passkeys     []passkeyLine
	PasskeysOn   bool
	// Invite: a first factor here also takes an administrator's invitation code
	// (mfa.Service.InviteNeeded).
	Invite bool
	Enrol  *mfa.Enrolment
	Codes  []string
}

// signedIn is the member behind this browser's session, or nil after rendering a page.
func (h *Handler) signedIn(c echo.Context) (*sso.Session, *legacy.Member, error) {
	ctx := c.Request().Context()
	sess, err := h.Cookies.Current(c)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, nil, h.Pages.Error(c, http.StatusUnauthorized, "You are not signed in",
			"Open one of the association's apps or the member website to sign in.", "")
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := h.Flow.Member(ctx, sess)
	if err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			return nil, nil, h.Pages.Error(c, http.StatusForbidden, "Your account cannot be used",
				"Your membership account can no longer sign in. Please contact the association.", "")
		}
		return nil, nil, h.Pages.MembershipUnavailable(c, h.Logger, err)
	}
	return sess, m, nil
}

func (h *Handler) securityData(c echo.Context, sess *sso.Session, m *legacy.Member, f mfa.Factors) (securityData, error) {
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return securityData{}, err
	}
	d := securityData{Page: h.Pages.Base("Sign-in security"), CSRF: csrf, Notice: c.QueryParam("done"),
		Confirm: h.reconfirm(f, m, sess), TOTP: f.TOTP, RecoveryLeft: f.RecoveryLeft, PasskeysOn: h.MFA.WebAuthn != nil,
		Invite: h.MFA.InviteNeeded(f, m, sess.AMR)}
	for _, p := range f.Passkeys {
		l := passkeyLine{ID: base64.RawURLEncoding.EncodeToString(p.ID), Name: p.Name, Added: p.CreatedAt.Format("2 Jan 2006"),
			Synced: p.BackupEligible}
		if !p.LastUsedAt.IsZero() {
			l.LastUsed = p.LastUsedAt.Format("2 Jan 2006")
		}
		d.Passkeys = append(d.Passkeys, l)
	}
	return d, nil
}

func (h *Handler) securityPage(c echo.Context) error {
	sess, m, err := h.signedIn(c)
	if sess == nil {
		return err
	}
	f, err := h.MFA.Factors(c.Request().Context(), sess.Subject)
	if err != nil {
		return err
	}
	d, err := h.securityData(c, sess, m, f)
	if err != nil {
		return err
	}
	if !mayAddFactor(f, m, sess.AMR) {
		d.Error = enrolElsewhereText
	}
	return h.Pages.Render(c, http.StatusOK, "security", d)
}

// securitySubmit handles the security page's forms. A member changes nothing before this
// session has confirmed it's them recently (reconfirm): with their second factor, or, for a
// first one, a recent sign-in or their password again.
func (h *Handler) securitySubmit(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	sess, m, err := h.signedIn(c)
	if sess == nil {
		return err
	}
	ctx := c.Request().Context()
	f, err := h.MFA.Factors(ctx, sess.Subject)
	if err != nil {
		return err
	}
	action := c.FormValue("action")
	show := func(status int, mod func(*securityData)) error {
		f, err := h.MFA.Factors(ctx, sess.Subject)
		if err != nil {
			return err
		}
		d, err := h.securityData(c, sess, m, f)
		if err != nil {
			return err
		}
		mod(&d)
		return h.Pages.Render(c, status, "security", d)
	}
	// A first factor of a member the AMS asks one of is enrolled only in a session the AMS
	// website's hand-off opened (mfa.MayEnrolFirst), whatever this session's age: refused
	// before anything is asked of the member.
	if (action == "totp-begin" || action == "totp-confirm") && !mayAddFactor(f, m, sess.AMR) {
		h.auditEnrolRefused(c, sess.Subject, "security page")
		return show(http.StatusForbidden, func(d *securityData) { d.Error = enrolElsewhereText })
	}
	// Nothing changes before the member confirmed it's them recently (reconfirm; else the
	// step-up first, which comes back here): a form sent again after that has aged is sent
	// through the step-up too.
	switch h.reconfirm(f, m, sess) {
	case confirmHandOff:
		return show(http.StatusForbidden, func(d *securityData) { d.Error = handOffAgainText })
	case confirmFactor, confirmPassword:
		next, err := h.StartStepUp(c, nil, sess)
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, next)
	}
	// A pending authenticator-app enrolment belongs to the browser that began it.
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return fmt.Errorf("request browser: %w", err)
	}
	switch action {
	case "stepup":
		return c.Redirect(http.StatusSeeOther, PathSecurity)
	case "totp-begin":
		if f.TOTP {
			return c.Redirect(http.StatusSeeOther, PathSecurity)
		}
		enrol, err := h.MFA.BeginTOTP(ctx, sess.Subject, m.Login, browser)
		if err != nil {
			return err
		}
		return show(http.StatusOK, func(d *securityData) { d.Enrol = enrol })
	case "totp-confirm":
		var codes []string
		if invite, ok := enrolInvite(c, h.MFA.InviteNeeded(f, m, sess.AMR)); ok {
			codes, err = h.MFA.ConfirmTOTP(ctx, sess.Subject, m, sess.AMR, c.FormValue("code"), c.RealIP(), browser, invite)
		} else {
			err = mfa.ErrInviteMissing
		}
		if msg, status := codeError(err); msg != "" {
			enrol, perr := h.MFA.PendingTOTP(ctx, sess.Subject, m.Login, browser)
			if perr != nil {
				return perr
			}
			return show(status, func(d *securityData) { d.Error, d.Enrol = msg, enrol })
		} else if err != nil {
			return err
		}
		// The member just proved the new factor in this session: it counts as used.
		if err := h.upgrade(c, sess, mfa.AMROTP); err != nil {
			return err
		}
		return show(http.StatusOK, func(d *securityData) { d.Codes = codes })
	case "totp-remove":
		if err := h.MFA.RemoveTOTP(ctx, sess.Subject, c.RealIP()); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, PathSecurity+"?done=totp-removed")
	case "passkey-remove":
		id, err := base64.RawURLEncoding.DecodeString(c.FormValue("passkey"))
		if err != nil || len(id) == 0 || len(id) > 1024 {
			return h.Pages.Error(c, http.StatusBadRequest, "Nothing to do", "No passkey was chosen.", "")
		}
		if err := h.Store.DeleteWebAuthnCredential(ctx, sess.Subject, id); err != nil {
			if errors.Is(err, sso.ErrNotFound) {
				return c.Redirect(http.StatusSeeOther, PathSecurity)
			}
			return fmt.Errorf("remove passkey: %w", err)
		}
		h.Audit(ctx, &store.AuditEvent{Event: "mfa.removed", Subject: sess.Subject, IP: c.RealIP(), Detail: "passkey"})
		return c.Redirect(http.StatusSeeOther, PathSecurity+"?done=passkey-removed")
	}
	return h.Pages.Error(c, http.StatusBadRequest, "Nothing to do", "That action is not known.", "")
}

// steppedUp reports whether sess used a second factor (at its sign-in or a step-up: both set
// its auth time) no longer than StepUpMaxAge ago, as changing the member's factors asks.
func (h *Handler) steppedUp(sess *sso.Session) bool {
	return mfa.HasMFA(sess.AMR) && h.fresh(sess)
}

// fresh reports whether sess was authenticated (signed in, signed in again, stepped up, its
// password confirmed again: each sets its auth time) no longer than StepUpMaxAge ago.
func (h *Handler) fresh(sess *sso.Session) bool {
	return !h.Now().After(sess.AuthTime.Add(h.stepUpAge()))
}

// stepUpAge is StepUpMaxAge, or config.DefaultStepUpMaxAge's 10 minutes when unset.
func (h *Handler) stepUpAge() time.Duration {
	if h.StepUpMaxAge <= 0 {
		return 10 * time.Minute // config.DefaultStepUpMaxAge
	}
	return h.StepUpMaxAge
}

// What the member must do before changing their factors (reconfirm).
const (
	confirmFactor   = "factor"   // a step-up with the second factor they have
	confirmPassword = "password" // their password again (a first factor)
	confirmHandOff  = "handoff"  // the AMS website's hand-off again (a first factor)
)

// reconfirm says what sess must do before the member (m, with factors f) changes their factors
// ("" when nothing): a member with a factor, a step-up with it no older than StepUpMaxAge
// (steppedUp); a member without one, a sign-in no older than that (fresh), else their password
// again (at the step-up page), or, for a member who enrols a first factor only after the AMS
// website's hand-off (mfa.MayEnrolFirst), a new hand-off, the AMS's own factor, which a password
// does not replace. Without it, someone holding a stolen session cookie could enrol their own
// authenticator app or passkey as the member's first factor, at any age of the session, and
// lock the member into it (brief s22 H2 item 1). An administrator's invitation code
// (mfa.first_enrolment: invitation) is asked on top, not instead: the code proves the member
// received it once, not that the person holding this session now is the member.
func (h *Handler) reconfirm(f mfa.Factors, m *legacy.Member, sess *sso.Session) string {
	switch {
	case f.Any():
		if h.steppedUp(sess) {
			return ""
		}
		return confirmFactor
	case h.fresh(sess), !mayAddFactor(f, m, sess.AMR):
		return "" // (none may be added in this session at all: enrolElsewhereText says why)
	case m.SecondFactor:
		return confirmHandOff
	}
	return confirmPassword
}

// A first factor whose hand-off session is too old (reconfirm: confirmHandOff). A new hand-off
// into this browser signs its session in again with the hand-off's time (bridge/web/handoff
// completeHandoff), so the member need not sign out first.
const (
	handOffAgainHeading = "Come back from the association's website"
	handOffAgainMessage = "You came here from the association's website too long ago to set up your second factor now: for your safety a first second factor is set up only soon after you sign in."
	handOffAgainHint    = "Sign in on the association's website again, then follow its link to this service."
	// handOffAgainText is both, for answers with one line.
	handOffAgainText = handOffAgainMessage + " " + handOffAgainHint
)

// withPassword is amr after the member's password was confirmed again: its methods and pwd, once.
func withPassword(amr []string) []string {
	if slices.Contains(amr, "pwd") {
		return slices.Clone(amr)
	}
	return append(slices.Clone(amr), "pwd")
}

// upgrade records a second factor of method, just enrolled, on sess (compare-and-set on its
// methods). Its auth time stays as it was: enrolling proves who holds the new authenticator,
// not who the member is (OIDC Core 2, auth_time; the step's firstFactorTime), so an app's
// max_age and the security page's own freshness take the session as no more recent than its
// sign-in (review s24 X-3: it was set to now).
func (h *Handler) upgrade(c echo.Context, sess *sso.Session, method string) error {
	if mfa.HasMFA(sess.AMR) {
		return nil
	}
	amr := mfa.WithFactor(sess.AMR, method)
	err := h.Store.UpgradeSession(c.Request().Context(), sess.ID, sess.AMR, amr, sess.AuthTime)
	switch {
	case err == nil:
		sess.AMR = amr
	case !errors.Is(err, sso.ErrConflict):
		return fmt.Errorf("upgrade session: %w", err)
	}
	return nil
}
