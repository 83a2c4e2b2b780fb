package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of the second-factor pages.
const (
	PathStep     = "/login/mfa"
	PathSecurity = "/account/security"
)

// Challenge kinds.
const (
	kindSignIn = "signin" // the password was right; no session until the second factor
	kindStepUp = "stepup" // a live session asks for a second factor
)

// noticeData is the Data of a sign-in challenge that shows the factor-reset notice, as written
// before challenges carried stepData (still read: a challenge lives ten minutes).
const noticeData = "reset-notice"

// challengeData is what a sign-in or step-up challenge carries besides its fields (its Data, JSON).
type challengeData struct {
	// Notice shows the one-time notice that an administrator reset the member's factors.
	Notice bool `json:"notice,omitempty"`
	// Next is where the browser goes once passed when there is no auth request ("": the
	// account page for a sign-in, the security page for a step-up).
	Next string `json:"next,omitempty"`
	// Upstream is recorded with the session a sign-in opens (an upstream sign-in).
	Upstream *store.UpstreamSession `json:"upstream,omitempty"`
	// Held says that Upstream was recorded at once as a held sign-in (store.HeldSignIn of the
	// challenge's id hash), so that the upstream's back-channel logout ends the wait; the step
	// moves that record to the session it opens. (Challenges written before: recorded then.)
	Held bool `json:"held,omitempty"`
	// Detail ends the login.success audit row.
	Detail string `json:"detail,omitempty"`
	// App names the app the sign-in is for when it is not an OIDC request (a SAML app).
	App string `json:"app,omitempty"`
	// MFA says that the app asked for a second factor outside an OIDC request (a SAML app's
	// RequestedAuthnContext): the step takes no "continue" without one.
	MFA bool `json:"mfa,omitempty"`
	// Auto marks a continuation (continueSignIn): a sign-in whose factors all passed, held
	// until its page is followed (after the recovery codes are shown, or a passkey's JSON
	// answer), when the step page passes it at once and finishes the request.
	Auto bool `json:"auto,omitempty"`
	// AuthTime is when a sign-in's first factor authenticated the member when that was not
	// when the challenge was made (an upstream provider's auth_time, or long before when it
	// sent none: upstream.SessionAuthTime); a continuation's, when its sign-in authenticated
	// the member. Zero: the challenge's CreatedAt. See signInTime.
	AuthTime time.Time `json:"auth_time,omitzero"`
}

// The sign-in time of a session opened at the step (OIDC Core 2, auth_time: when the End-User
// authentication occurred), which an app's max_age and prompt=login and the security page's
// step-up (fresh) compare:
//
//   - A factor of the member's checked at the step (an authenticator app's code, a recovery
//     code, a passkey) authenticates them then, whatever the age of the first factor: the
//     member was actively authenticated by this provider (OIDC Core 3.1.2.1, max_age) with
//     something they hold, as a step-up of a live session is (pass: UpgradeSession sets the
//     session's auth time then). So an upstream sign-in of any age, or without auth_time, plus a
//     code typed now counts as signed in now: for an app's max_age, and for changing the
//     member's factors (a recent factor is what that asks), without asking for the code twice.
//   - A step that checks nothing of the member's (the factor-reset notice acknowledged, a
//     sign-in whose first factor was a second one too) or only confirms a factor enrolled there
//     (which proves who holds the new authenticator, not who the member is) is no
//     authentication: the session keeps its first factor's time, signInTime. For a password
//     or the AMS hand-off that is when the step was opened (at most min(10m,
//     mfa.step_up_max_age) before); for an upstream sign-in the provider's auth_time, and a
//     day before when it sent none (upstream.UnknownAuthAge), which no freshness check takes
//     for recent. Before session 24 such a step took "now": a provider trusted for mfa that
//     answered silently became a fresh sign-in through the notice alone.

// signInTime is when a sign-in challenge's first factor authenticated the member (challengeData
// AuthTime, else when the challenge was made): the time a session it opens takes when no
// factor is checked at the step.
//
// A continuation (Auto) and an upstream sign-in's step (Upstream) are always written with their
// AuthTime since session 24 (continueSignIn, AfterFirstFactor); one without it was written by
// an older version during a rolling upgrade, which did not record when its sign-in
// authenticated the member (its challenge was made after a factor passed, or after an
// upstream provider's answer of any age). Such a time is unknown: it is taken as not recent
// (fail closed), unknownAuthAge before the challenge was made, as an upstream sign-in without
// auth_time is (upstream.SessionAuthTime), never as when the challenge was made nor now: the
// member signs in again where an app or the security page asks for a recent sign-in (brief s26
// D item 3).
func (l *loaded) signInTime() time.Time {
	switch {
	case !l.data.AuthTime.IsZero():
		return l.data.AuthTime
	case l.data.Auto || l.data.Upstream != nil:
		return l.ch.CreatedAt.Add(-unknownAuthAge)
	}
	return l.ch.CreatedAt
}

// unknownAuthAge is how long before it a sign-in whose time is unknown counts as authenticated
// (signInTime): upstream.UnknownAuthAge, longer than the longest mfa.step_up_max_age, so that
// no freshness check takes it as recent.
const unknownAuthAge = upstream.UnknownAuthAge

func readChallengeData(b []byte) challengeData {
	var d challengeData
	switch {
	case string(b) == noticeData:
		d.Notice = true
	case len(b) > 0:
		_ = json.Unmarshal(b, &d) // a ceremony's data is not read as this
	}
	return d
}

// challengeLifetime is how long a second-factor step may take; a sign-in's step no longer than
// StepUpMaxAge (newChallenge).
const challengeLifetime = 10 * time.Minute

// Handler serves the second-factor step of the sign-in (/login/mfa) and the member's security
// page (/account/security). It is the authflow's SecondFactor. Every field is required.
type Handler struct {
	Pages   *web.Renderer
	Cookies *session.Cookies
	Flow    *authflow.Handler
	MFA     *mfa.Service
	Store   store.FactorStore
	// Subjects is the member's subject (identity.SubjectMapper).
	Subjects *identity.SubjectMapper
	Audit    func(context.Context, *store.AuditEvent)
	// Observer counts passkey sign-ins (metrics; nil: not counted).
	Observer signin.Observer
	Logger   *slog.Logger
	Now      func() time.Time
	// StepUpMaxAge is how recent the session's second factor must be for the member to change
	// their factors (config mfa.step_up_max_age; 0: config.DefaultStepUpMaxAge's 10 minutes).
	StepUpMaxAge time.Duration
}

// Mount adds the pages. The security page and the step page answer HEAD as their GET without
// the body (RFC 9110 9.3.2; a HEAD sets no cookie: session.Cookies) and without the GET's
// writes: the step page's GET passes a continuation's challenge (and finishes its sign-in),
// binds the sign-in request to the browser, begins a TOTP enrolment or audits one refused, none
// of which its HEAD does (stepPage, render).
func (h *Handler) Mount(e *echo.Echo) {
	e.Match([]string{http.MethodGet, http.MethodHead}, PathStep, h.stepPage)
	e.POST(PathStep, h.stepSubmit)
	e.Match([]string{http.MethodGet, http.MethodHead}, PathSecurity, h.securityPage)
	e.POST(PathSecurity, h.securitySubmit)
	h.mountPasskeys(e)
}

func challengeHash(raw string) string { return sso.HashToken("mfa-challenge:" + raw) }

// newChallenge stores a pending challenge for this browser and returns its raw id. It lives
// challengeLifetime; a sign-in's (kindSignIn) no longer than StepUpMaxAge: its first factor
// (the password, the AMS hand-off, an upstream sign-in), checked when the challenge is opened,
// bounds the second as a step-up's age does (stepUpAge), so a sign-in whose password is older
// than mfa.step_up_max_age is not completed by a factor now. A ch.ExpiresAt already set is
// kept when it is sooner: a continuation (continueSignIn) is bounded by its sign-in's start,
// not given a new lifetime when its factor passed. The store refuses the challenge once expired
// (PassMFAChallenge, MFAChallenge): the member starts the sign-in again.
func (h *Handler) newChallenge(c echo.Context, ch *store.MFAChallenge) (string, error) {
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return "", fmt.Errorf("request browser: %w", err)
	}
	raw := sso.RandomToken()
	now := h.Now()
	lifetime := challengeLifetime
	if ch.Kind == kindSignIn {
		lifetime = min(lifetime, h.stepUpAge())
	}
	expires := now.Add(lifetime)
	if !ch.ExpiresAt.IsZero() && ch.ExpiresAt.Before(expires) {
		expires = ch.ExpiresAt // a continuation ends when the sign-in it continues would have
	}
	ch.IDHash, ch.Browser, ch.CreatedAt, ch.ExpiresAt = challengeHash(raw), browser, now, expires
	if err := h.Store.CreateMFAChallenge(c.Request().Context(), ch); err != nil {
		return "", fmt.Errorf("create mfa challenge: %w", err)
	}
	return raw, nil
}

func stepURL(raw string) string { return PathStep + "?c=" + url.QueryEscape(raw) }

// AfterFirstFactor is called when a first factor passed (authflow.SecondFactor). It returns ""
// when the member goes on without a second factor (and there is nothing to tell them), or the
// second-factor step to send the browser to: the sign-in then waits there, without a session,
// until a second factor (or enrolment, or the member's acknowledging the reset notice) passes.
func (h *Handler) AfterFirstFactor(c echo.Context, ff *authflow.FirstFactor) (string, error) {
	// The request reads the member's factors once: NeedsStepUp asks again when it completes.
	c.SetRequest(c.Request().WithContext(mfa.WithFactorsMemo(c.Request().Context())))
	ctx := c.Request().Context()
	m := ff.Member
	// The subject is remembered now: the step looks the member up by it.
	sub, err := h.Subjects.Remember(ctx, m.Key, m.Login, h.Now())
	if err != nil {
		return "", err
	}
	// The notice is read here and used up only when a session opens (pass): a member who
	// leaves the step is told again at the next sign-in.
	f, notice, err := h.MFA.SignInFactors(ctx, sub)
	if err != nil {
		return "", err
	}
	if (mfa.HasMFA(ff.AMR) || (h.MFA.Required(ff.AR, ff.Client, m, f, ff.AMR) == mfa.ReasonNotNeeded && !ff.RequireMFA)) && !notice {
		return "", nil
	}
	ch := &store.MFAChallenge{Kind: kindSignIn, Subject: sub, AMR: ff.AMR}
	if ff.AR != nil {
		ch.AuthRequestID = ff.AR.ID
	}
	cd := challengeData{Notice: notice, Next: ff.Next, Upstream: ff.Upstream, Detail: ff.Detail, MFA: ff.RequireMFA,
		Held: ff.Upstream != nil}
	if !ff.AuthTime.IsZero() {
		// An upstream provider's (see signInTime), never after now: recorded also when it is
		// now, so that a step without it is known to be an older version's.
		cd.AuthTime = ff.AuthTime
		if now := h.Now(); cd.AuthTime.After(now) {
			cd.AuthTime = now
		}
	}
	if ff.AR == nil && ff.Client != nil {
		cd.App = ff.Client.Name
	}
	if ch.Data, err = json.Marshal(cd); err != nil {
		return "", err
	}
	raw, err := h.newChallenge(c, ch)
	if err != nil {
		return "", err
	}
	if up := ff.Upstream; up != nil {
		// The upstream session is recorded now, as this held sign-in's: its back-channel logout,
		// should it come while the member is at the step, ends the wait (review s5 V6).
		if err := h.Flow.PlaceUpstream(ctx, up, "", store.HeldSignIn(ch.IDHash), ch.ExpiresAt); err != nil {
			return "", fmt.Errorf("record held upstream sign-in: %w", err)
		}
	}
	ff.Step = ch.IDHash
	return stepURL(raw), nil
}

// NeedsStepUp reports whether sess lacks a second factor that completing ar for client needs.
func (h *Handler) NeedsStepUp(ctx context.Context, ar *sso.AuthRequest, client *sso.ClientConfig, sess *sso.Session, m *legacy.Member) (bool, error) {
	if mfa.HasMFA(sess.AMR) {
		return false, nil
	}
	f, err := h.MFA.Factors(ctx, sess.Subject)
	if err != nil {
		return false, err
	}
	return h.MFA.Required(ar, client, m, f, sess.AMR) != mfa.ReasonNotNeeded, nil
}

// StartStepUp opens a step-up challenge on sess (for ar; nil: the security page) and returns
// where to send the browser.
func (h *Handler) StartStepUp(c echo.Context, ar *sso.AuthRequest, sess *sso.Session) (string, error) {
	return h.stepUp(c, ar, sess, challengeData{})
}

// StepUpTo opens a step-up challenge on sess that goes on to next (a local path) once passed:
// a sign-in that is not an OIDC request (a SAML app's) asks for the second factor this way.
// requireMFA says that the app asked for one (a member without one enrols at the step).
func (h *Handler) StepUpTo(c echo.Context, sess *sso.Session, next string, requireMFA bool) (string, error) {
	return h.stepUp(c, nil, sess, challengeData{Next: next, MFA: requireMFA})
}

func (h *Handler) stepUp(c echo.Context, ar *sso.AuthRequest, sess *sso.Session, d challengeData) (string, error) {
	ch := &store.MFAChallenge{Kind: kindStepUp, Subject: sess.Subject, SessionID: sess.ID, AMR: sess.AMR}
	if ar != nil {
		ch.AuthRequestID = ar.ID
	}
	if d != (challengeData{}) {
		var err error
		if ch.Data, err = json.Marshal(d); err != nil {
			return "", err
		}
	}
	raw, err := h.newChallenge(c, ch)
	if err != nil {
		return "", err
	}
	return stepURL(raw), nil
}

// ---- the second-factor step ----

type stepData struct {
	web.Page
	CSRF, Challenge, ClientName, Error string
	Notice                             bool
	// TOTP and Passkeys: the member's factors to choose from; Enrol: a pending enrolment;
	// Continue: nothing is needed (the notice only).
	TOTP, Passkeys bool
	Enrol          *mfa.Enrolment
	// Invite: the enrolment also takes an administrator's invitation code (mfa.InviteNeeded).
	Invite   bool
	Continue bool
	// Password: the member types their password again first (passwordFirst).
	Password bool
	// Codes are fresh recovery codes (shown once) and Next where to go on.
	Codes []string
	Next  string
}

// loaded is a challenge with what it continues.
type loaded struct {
	raw    string
	ch     *store.MFAChallenge
	ar     *sso.AuthRequest
	client *sso.ClientConfig
	m      *legacy.Member
	f      mfa.Factors
	reason string
	data   challengeData
	// sess is a step-up's session as the store has it now (nil for a sign-in).
	sess *sso.Session
	// at is when the member was last authenticated when the step checks no factor or password
	// of theirs (firstFactorTime: "continue", or a first factor enrolled); zero: now, one was
	// (pass).
	at time.Time
}

// firstFactorTime is the time a session the step opens or steps up keeps when no factor or
// password of the member's is checked at it (the reset notice acknowledged, a first factor
// enrolled: OIDC Core 2, auth_time): a sign-in's first factor's (signInTime), a step-up's
// session's own auth time as the store has it now, so the step makes it no more recent than it
// was (review s24 X-3: a step-up enrolling a first factor set it to now).
func (l *loaded) firstFactorTime() time.Time {
	if l.ch.Kind == kindStepUp && l.sess != nil {
		return l.sess.AuthTime
	}
	return l.signInTime()
}

var errChallengeUsed = errors.New("mfa challenge used")

// load finds the challenge raw names for this browser, the request it continues and the
// member; on a failure it renders the error page and returns nil.
func (h *Handler) load(c echo.Context, raw string) (*loaded, error) {
	ctx := c.Request().Context()
	ch, err := h.Store.MFAChallenge(ctx, challengeHash(raw))
	if errors.Is(err, sso.ErrNotFound) || raw == "" || len(raw) > 128 {
		return nil, h.Pages.Error(c, http.StatusBadRequest, "This step has expired",
			"The sign-in step you came back to is no longer valid: it was finished already or is too old.",
			"Go back to the app and start signing in again.")
	}
	if err != nil {
		return nil, fmt.Errorf("load mfa challenge: %w", err)
	}
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return nil, fmt.Errorf("request browser: %w", err)
	}
	if ch.Browser != browser {
		return nil, h.Pages.Error(c, http.StatusForbidden, "This step was started in another browser",
			"For your safety, a sign-in can only be finished in the browser where it was started.", "Start again from the app in this browser.")
	}
	if ch.Passed {
		return nil, h.used(c)
	}
	if ch.Kind != kindSignIn && ch.Kind != kindStepUp {
		// A ceremony's id is not a step.
		return nil, h.Pages.Error(c, http.StatusBadRequest, "This step has expired",
			"The sign-in step you came back to is no longer valid: it was finished already or is too old.",
			"Go back to the app and start signing in again.")
	}
	l := &loaded{raw: raw, ch: ch, data: readChallengeData(ch.Data)}
	if ch.Kind == kindStepUp {
		sess, err := h.Cookies.Current(c)
		if err != nil || sess.ID != ch.SessionID || sess.Subject != ch.Subject {
			return nil, h.Pages.Error(c, http.StatusForbidden, "You are no longer signed in",
				"The session this step belongs to has ended.", "Go back to the app and sign in again.")
		}
		l.sess = sess
	}
	if ch.AuthRequestID != "" {
		ar, client, err := h.Flow.PendingRequest(c, ch.AuthRequestID)
		if ar == nil {
			return nil, err
		}
		l.ar, l.client = ar, client
	}
	if ch.Kind == kindSignIn && l.data.Held {
		if err := h.Flow.HeldLive(ctx, store.HeldSignIn(ch.IDHash)); err != nil {
			return nil, h.Flow.EndedOr(c, err)
		}
	}
	if l.m, err = h.Flow.Member(ctx, &sso.Session{Subject: ch.Subject}); err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			return nil, h.Pages.Error(c, http.StatusForbidden, "Your account cannot be used",
				"Your membership account can no longer sign in. Please contact the association.", "")
		}
		return nil, h.Pages.MembershipUnavailable(c, h.Logger, err)
	}
	if l.f, err = h.MFA.Factors(ctx, ch.Subject); err != nil {
		return nil, err
	}
	l.reason = h.MFA.Required(l.ar, l.client, l.m, l.f, l.amr())
	if l.reason == mfa.ReasonNotNeeded && l.data.MFA {
		l.reason = mfa.ReasonACR
	}
	return l, nil
}

// mayEnrol reports whether the member may enrol a first factor at this step
// (mfa.MayEnrolFirst), by the step's methods (amr).
func (l *loaded) mayEnrol() bool { return mfa.MayEnrolFirst(l.m, l.amr()) }

// amr is the methods the step judges the member by, both whether a factor is required
// (mfa.Service.Required) and whether a first one may be enrolled (mayEnrol): the ones the
// store recorded for the challenge when it was opened (a sign-in's first factor, or the
// step-up's session then) while they and, for a step-up, the session's as they are now both
// begin with the AMS hand-off; otherwise the first of them that does not. A hand-off session
// the same member signed in to again with the password (another tab) is a password session:
// its step-up no longer counts as the hand-off's.
func (l *loaded) amr() []string {
	if mfa.HandedOff(l.ch.AMR) && l.sess != nil && !mfa.HandedOff(l.sess.AMR) {
		return l.sess.AMR
	}
	return l.ch.AMR
}

// Why a first factor is not enrolled here (enrolElsewhere).
const (
	enrolElsewhereHeading = "Set up your second factor from the association's website"
	enrolElsewhereMessage = "The association's membership system signs you in only with a second factor, and you have not set one up with this service yet. For your safety it cannot be set up here after your password alone."
	enrolElsewhereHint    = "Sign in on the association's website first (with your password and your second factor there), then follow its link to this service: you can set up your second factor here from there."
	// enrolElsewhereText is both, for answers with one line (JSON, the security page).
	enrolElsewhereText = enrolElsewhereMessage + " " + enrolElsewhereHint
)

// mayAddFactor reports whether a member with factors f may add one in a sign-in or session
// whose methods are amr: a further factor always (the callers ask for an existing one first), a
// first one as mfa.MayEnrolFirst says.
func mayAddFactor(f mfa.Factors, m *legacy.Member, amr []string) bool {
	return f.Any() || mfa.MayEnrolFirst(m, amr)
}

// inviteNeeded reports whether a first factor enrolled at this step needs an invitation code
// (mfa.Service.InviteNeeded), by the step's methods (amr).
func (l *loaded) inviteNeeded(s *mfa.Service) bool { return s.InviteNeeded(l.f, l.m, l.amr()) }

// msgInviteMissing answers an enrolment without the invitation code it needs.
const msgInviteMissing = "Type the invitation code the association gave you: setting up your first second factor needs it."

// enrolInvite is the invitation code an enrolment form carries ("" when none is needed); ok is
// false when one is needed and the form has none.
func enrolInvite(c echo.Context, needed bool) (string, bool) {
	if !needed {
		return "", true
	}
	invite := strings.TrimSpace(c.FormValue("invite"))
	if len(invite) > 64 {
		invite = invite[:64]
	}
	return invite, invite != ""
}

// auditEnrolRefused records a first factor refused at where (mfa.MayEnrolFirst); a HEAD of the
// step page, which enrols nothing, records nothing.
func (h *Handler) auditEnrolRefused(c echo.Context, subject, where string) {
	if c.Request().Method == http.MethodHead {
		return
	}
	h.Audit(c.Request().Context(), &store.AuditEvent{Event: "mfa.enrol_refused", Subject: subject, IP: c.RealIP(),
		Detail: where + ": a first factor of a member the AMS asks one of needs the AMS hand-off"})
}

// enrolElsewhere answers a member who may not enrol a first factor in this sign-in
// (mayEnrol): no secret is made or shown, nothing is enrolled.
func (h *Handler) enrolElsewhere(c echo.Context, subject, where string) error {
	h.auditEnrolRefused(c, subject, where)
	return h.Pages.Error(c, http.StatusForbidden, enrolElsewhereHeading, enrolElsewhereMessage, enrolElsewhereHint)
}

// done reports whether the methods passed already include a second factor (a sign-in with a
// passkey alone, or an upstream whose mfa is trusted, that stops here for the notice only).
//
// Never for a step-up: a session that used a second factor already steps up again only to
// prove it anew (the security page's changes ask for a recent one, steppedUp), which the step
// takes only with a factor.
func (l *loaded) done() bool { return l.ch.Kind != kindStepUp && mfa.HasMFA(l.ch.AMR) }

func (h *Handler) used(c echo.Context) error {
	return h.Pages.Error(c, http.StatusConflict, "This step was already finished",
		"The second step of this sign-in has been done already, so it cannot be done again.",
		"Go back to the app; if you are not signed in there, start signing in again.")
}

func (h *Handler) render(c echo.Context, status int, l *loaded, d stepData) error {
	ctx := c.Request().Context()
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	d.Page, d.CSRF, d.Challenge = h.Pages.Base("Confirm it's you"), csrf, l.raw
	d.Notice = l.data.Notice
	if l.client != nil {
		d.ClientName = l.client.Name
	} else {
		d.ClientName = l.data.App
	}
	if d.Codes != nil {
		return h.Pages.Render(c, status, "mfa", d)
	}
	if h.passwordFirst(l) {
		if l.m.SecondFactor {
			// Enrolled only after the AMS website's hand-off, whose own factor a password does
			// not replace: a new hand-off (reconfirm).
			return h.Pages.Error(c, http.StatusForbidden, handOffAgainHeading, handOffAgainMessage, handOffAgainHint)
		}
		d.Password = true
		return h.Pages.Render(c, status, "mfa", d)
	}
	d.TOTP, d.Passkeys = l.f.TOTP, len(l.f.Passkeys) > 0 && h.MFA.WebAuthn != nil
	switch {
	case l.done():
		// The first factor was a second factor too (a passkey): only the notice is left.
		d.TOTP, d.Passkeys, d.Continue = false, false, true
	case l.f.Any():
	case l.reason != mfa.ReasonNotNeeded:
		// A second factor is required and the member has none: enrol an authenticator app now.
		// The secret is this browser's (the challenge's): another browser's pending one is
		// replaced, never shown here. Not after the password alone of a member the AMS asks
		// a factor of: no secret is made at all.
		if !l.mayEnrol() {
			return h.enrolElsewhere(c, l.ch.Subject, "step")
		}
		head := c.Request().Method == http.MethodHead
		if d.Enrol, err = h.MFA.PendingTOTP(ctx, l.ch.Subject, l.m.Login, l.ch.Browser); err == nil && d.Enrol == nil && !head {
			d.Enrol, err = h.MFA.BeginTOTP(ctx, l.ch.Subject, l.m.Login, l.ch.Browser)
		}
		if err != nil {
			return err
		}
		d.Invite = l.inviteNeeded(h.MFA)
		if head && d.Enrol == nil {
			// The GET would begin an enrolment (a write) and show its new secret: the HEAD
			// answers its status and fields without it, and without a Content-Length, which
			// only that page determines (flushed before the handler ends, net/http sends none).
			if err := h.Pages.Render(c, status, "mfa", d); err != nil {
				return err
			}
			c.Response().Flush()
			return nil
		}
	default:
		d.Continue = true
	}
	return h.Pages.Render(c, status, "mfa", d)
}

func (h *Handler) stepPage(c echo.Context) error {
	l, err := h.load(c, c.QueryParam("c"))
	if l == nil {
		return err
	}
	if l.data.Auto && l.ch.Kind == kindSignIn && l.ar != nil {
		if c.Request().Method == http.MethodHead {
			// The GET's answer is a 303 whose Location (the app's redirect_uri with a code, or
			// the consent page of a session just opened) only passing the continuation makes:
			// a write a HEAD must not do. A 303 without it left a HEAD-following client (curl
			// -IL, a link checker) with a redirect to nowhere (review s26 R2-7), and the step's
			// own address would send it round in a loop. So the HEAD is refused, honestly:
			// 405 with the methods this address does take (RFC 9110 15.5.6, 10.2.1), no body
			// and nothing passed; such a client stops here or asks with GET.
			c.Response().Header().Set("Allow", "GET, POST")
			return c.NoContent(http.StatusMethodNotAllowed)
		}
		// A continuation: its factors passed; followed once, it finishes the request with the
		// time its sign-in authenticated the member (continueSignIn), not now.
		l.at = l.signInTime()
		next, err := h.pass(c, l, l.ch.AMR, true)
		if next == "" {
			return err
		}
		return c.Redirect(http.StatusSeeOther, next)
	}
	return h.render(c, http.StatusOK, l, stepData{})
}

// stepSubmit checks the second factor the member typed, then passes the challenge (once) and
// opens or upgrades the session.
func (h *Handler) stepSubmit(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	l, err := h.load(c, c.FormValue("c"))
	if l == nil {
		return err
	}
	ctx := c.Request().Context()
	sub, ip, code := l.ch.Subject, c.RealIP(), c.FormValue("code")
	if len(code) > 64 {
		code = code[:64]
	}
	var amr []string
	var codes []string
	method := c.FormValue("method")
	if h.passwordFirst(l) && method != "password" {
		// An enrolment form loaded while the session was recent, sent after it aged, or a
		// "continue" (which would not have made it recent): the password first.
		return h.render(c, http.StatusForbidden, l, stepData{Error: msgPasswordFirst})
	}
	switch method {
	case "password":
		if !h.passwordFirst(l) {
			return h.render(c, http.StatusBadRequest, l, stepData{Error: "Choose how to confirm it's you."})
		}
		if msg, status := h.checkPassword(c, l); msg != "" {
			return h.render(c, status, l, stepData{Error: msg})
		}
		amr = withPassword(l.ch.AMR)
	case "totp":
		err = h.MFA.VerifyTOTP(ctx, sub, code, ip)
		amr = mfa.WithFactor(l.ch.AMR, mfa.AMROTP)
	case "recovery":
		err = h.MFA.UseRecoveryCode(ctx, sub, code, ip)
		amr = mfa.WithFactor(l.ch.AMR, mfa.AMROTP)
	case "enrol":
		if l.f.Any() {
			return h.render(c, http.StatusBadRequest, l, stepData{Error: "You already have a second factor: use it."})
		}
		if !l.mayEnrol() {
			return h.enrolElsewhere(c, sub, "step")
		}
		if invite, ok := enrolInvite(c, l.inviteNeeded(h.MFA)); ok {
			codes, err = h.MFA.ConfirmTOTP(ctx, sub, l.m, l.amr(), code, ip, l.ch.Browser, invite)
		} else {
			err = mfa.ErrInviteMissing
		}
		amr = mfa.WithFactor(l.ch.AMR, mfa.AMROTP)
		// Enrolling proves who holds the new authenticator, not who the member is: a sign-in
		// keeps its first factor's time, a step-up its session's (firstFactorTime).
		l.at = l.firstFactorTime()
	case "continue":
		if !l.done() && (l.f.Any() || l.reason != mfa.ReasonNotNeeded) {
			return h.render(c, http.StatusBadRequest, l, stepData{Error: "A second factor is needed to go on."})
		}
		amr, l.at = l.ch.AMR, l.firstFactorTime()
	default:
		return h.render(c, http.StatusBadRequest, l, stepData{Error: "Choose how to confirm it's you."})
	}
	if msg, status := codeError(err); msg != "" {
		var te *mfa.ThrottledError
		if errors.As(err, &te) {
			c.Response().Header().Set("Retry-After", fmt.Sprint(int(te.RetryAfter.Seconds())+1))
		}
		return h.render(c, status, l, stepData{Error: msg})
	} else if err != nil {
		return err
	}
	next, err := h.pass(c, l, amr, codes == nil)
	if next == "" {
		return err
	}
	if codes != nil {
		return h.render(c, http.StatusOK, l, stepData{Codes: codes, Next: next})
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// passwordFirst reports whether the step must ask the member's password again before anything
// else (reconfirm's confirmPassword, at the step): a step-up of a session older than
// StepUpMaxAge of a member who has no factor yet and may enrol one here, whether the security
// page or an app that requires a second factor sent them. Else whoever holds a stolen session
// cookie would enrol their own authenticator app as the member's first factor here. (A
// sign-in's step follows its first factor at once: its challenge is that recent.) For a member
// who enrols only after the AMS website's hand-off, the step asks for a new hand-off instead.
func (h *Handler) passwordFirst(l *loaded) bool {
	return l.ch.Kind == kindStepUp && l.sess != nil && !l.f.Any() && l.mayEnrol() && !h.fresh(l.sess)
}

// msgPasswordFirst asks for the password at a step that needs it first (passwordFirst).
const msgPasswordFirst = "First confirm it's you with your password."

// checkPassword checks the password typed at the step against the AMS, as the login form does
// (signin.Checker: throttled per login and address, failures audited and counted): it returns
// what the member is told ("" when it is theirs) and the status.
func (h *Handler) checkPassword(c echo.Context, l *loaded) (string, int) {
	ctx := c.Request().Context()
	password := c.FormValue("password")
	if len(password) > 1024 {
		return signin.BadCredentials, http.StatusBadRequest
	}
	m, err := h.Flow.SignIn.Check(ctx, signin.Attempt{Login: l.m.Login, Password: password, IP: c.RealIP(),
		Detail: "password confirmed again at a step-up", Method: signin.MethodPasswordReconfirm})
	if err == nil && m.Key != l.m.Key {
		err = legacy.ErrBadCredentials // the login now names another member
	}
	var te *signin.ThrottledError
	switch {
	case err == nil:
		return "", 0
	case errors.As(err, &te):
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(te.RetryAfter.Seconds())+1))
		return fmt.Sprintf("Too many attempts. For your security, please wait %d minutes and try again.", int(te.RetryAfter.Minutes())+1),
			http.StatusTooManyRequests
	case errors.Is(err, legacy.ErrUnavailable):
		return signin.Message(err), http.StatusServiceUnavailable
	}
	return signin.Message(err), http.StatusUnauthorized
}

// codeError is what a person is told about a failed code ("" when err is not about the code).
func codeError(err error) (string, int) {
	var te *mfa.ThrottledError
	switch {
	case err == nil:
		return "", 0
	case errors.As(err, &te):
		return fmt.Sprintf("Too many wrong codes. For your security, please wait %d minutes and try again.", int(te.RetryAfter.Minutes())+1),
			http.StatusTooManyRequests
	case errors.Is(err, mfa.ErrInviteMissing):
		// None typed where the page asked for one, or the store found the factor would be the
		// member's first (the one the page saw was removed meanwhile): nothing checked or counted.
		return msgInviteMissing, http.StatusBadRequest
	case errors.Is(err, mfa.ErrWrongInvite):
		// One answer for a wrong, another member's, used and expired code: which one is not told.
		return msgWrongInvite, http.StatusUnauthorized
	case errors.Is(err, mfa.ErrWrongCode), errors.Is(err, mfa.ErrNoFactor):
		return "That code is not right, or it was used already. Check it and try again.", http.StatusUnauthorized
	case errors.Is(err, throttle.ErrUnavailable): // fail closed
		return "We cannot check codes right now. Please try again in a few minutes.", http.StatusServiceUnavailable
	}
	return "", 0
}

// msgWrongInvite answers an invitation code that cannot be used, whatever the reason.
const msgWrongInvite = "That invitation code cannot be used: it is not right, or it was used already or has expired. Check it, or ask the association for a new one."

// pass moves the challenge to passed (once) and opens the session (sign-in) or upgrades it
// (step-up) with amr. It returns where the browser goes on, or "" after answering (an error
// page, or, when answer is set, a sign-in for an app finished at once).
//
// A sign-in for an app (an OIDC request) whose answer may follow at once (answer: no recovery
// codes to show first) and that brings no upstream session goes straight on to the app through
// the flow (authflow FinishSignIn): its session is written with the completion of the request, in
// one transaction, or where the sign-in stops (consent, a refusal) as the flow decides, never
// before the request's compare-and-set. Two steps of one request passed at once (a login form
// sent twice opens two) leave one session.
func (h *Handler) pass(c echo.Context, l *loaded, amr []string, answer bool) (string, error) {
	ctx := c.Request().Context()
	if err := h.Store.PassMFAChallenge(ctx, l.ch.IDHash, l.ch.Browser, h.Now()); err != nil {
		if errors.Is(err, sso.ErrAuthRequestUsed) || errors.Is(err, sso.ErrNotFound) || errors.Is(err, sso.ErrAuthRequestElsewhere) {
			return "", h.used(c)
		}
		return "", fmt.Errorf("pass mfa challenge: %w", err)
	}
	detail := strings.Join(amr, "+")
	if l.data.Detail != "" {
		detail += " " + l.data.Detail
	}
	next := PathSecurity
	switch {
	case l.ar != nil:
		next = authflow.PathLogin + "?id=" + url.QueryEscape(l.ar.ID)
	case l.data.Next != "":
		next = l.data.Next
	case l.ch.Kind == kindSignIn:
		next = "/account"
	}
	// The session's time: now when a factor (or the password) of the member's was checked
	// here, else its first factor's or, for a step-up, its own (firstFactorTime).
	at := l.at
	if at.IsZero() {
		at = h.Now()
	}
	if l.ch.Kind == kindSignIn && l.ar != nil && !answer {
		// The answer does not follow at once (recovery codes to show first, a passkey's JSON
		// answer): the sign-in is held as a continuation that the browser follows next.
		return h.continueSignIn(c, l.ch, l.data, amr, at)
	}
	o := authflow.SignInOptions{AuthTime: at} // and the upstream sign-in behind it, held at the step or not
	if up := l.data.Upstream; up != nil {
		o.Upstream = up
		if l.data.Held {
			o.HeldAt = store.HeldSignIn(l.ch.IDHash)
		}
	}
	if l.ch.Kind == kindSignIn && l.ar != nil {
		if l.data.Notice {
			// The member was told: the notice is used up (should that fail, they are told
			// again next time).
			if _, err := h.Store.TakeFactorResetNotice(ctx, l.ch.Subject); err != nil {
				h.Logger.WarnContext(ctx, "mfa: the reset notice could not be cleared", "err", err)
			}
		}
		return "", h.Flow.FinishSignInWith(c, l.ar, l.client, l.m, amr,
			&store.AuditEvent{Event: "login.success", Login: l.m.Login, ClientID: l.client.ID, IP: c.RealIP(), Detail: detail}, o)
	}
	switch l.ch.Kind {
	case kindSignIn:
		// The held upstream record becomes the session's, unless the upstream's logout took it
		// since load: then the session just opened ends at once.
		if _, err := h.Flow.StartSessionWith(c, l.m, amr, o); err != nil {
			return "", h.Flow.EndedOr(c, err)
		}
		clientID := ""
		if l.client != nil {
			clientID = l.client.ID
		}
		h.Audit(ctx, &store.AuditEvent{Event: "login.success", Subject: l.ch.Subject, Login: l.m.Login, ClientID: clientID, IP: c.RealIP(), Detail: detail})
		if l.data.Notice {
			// The member was told, and is signed in: the notice is used up.
			// (Should that fail, the member is told again next time: the sign-in goes on.)
			if _, err := h.Store.TakeFactorResetNotice(ctx, l.ch.Subject); err != nil {
				h.Logger.WarnContext(ctx, "mfa: the reset notice could not be cleared", "err", err)
			}
		}
	case kindStepUp:
		// at: now when a factor or the password was checked here, else the session's own time
		// (nothing checked, or a first factor enrolled: it is no more recent than it was).
		if err := h.Store.UpgradeSession(ctx, l.ch.SessionID, l.ch.AMR, amr, at); err != nil {
			if errors.Is(err, sso.ErrConflict) || errors.Is(err, sso.ErrNotFound) {
				return "", h.used(c)
			}
			return "", fmt.Errorf("upgrade session: %w", err)
		}
		h.Audit(ctx, &store.AuditEvent{Event: "login.step_up", Subject: l.ch.Subject, Login: l.m.Login, IP: c.RealIP(), Detail: detail})
	default:
		return "", fmt.Errorf("mfa challenge of kind %q at the second-factor step", l.ch.Kind)
	}
	// The login page finishes the request with the new (or upgraded) session: the same checks
	// as any other entry point (access, consent, the second factor's own guard).
	return next, nil
}

// continuationFloor is the least time a continuation leaves the member (continueSignIn), within
// the step's lifetime (newChallenge).
const continuationFloor = 2 * time.Minute

// continueSignIn holds a sign-in for an app whose factors all passed (amr) as a continuation: a
// new one-time sign-in challenge (Auto) carrying what from carried, which the step page passes
// when the browser follows it and then finishes the request (pass, FinishSignInWith). It
// returns the continuation's page. No session is written before the request's compare-and-set:
// two sign-ins of one request (a form sent twice), each followed, complete it once and leave
// one session. A held upstream sign-in moves to the continuation.
//
// The session takes at, when the sign-in authenticated the member (signInTime), not the time
// the continuation is followed. The continuation expires when from does (a sign-in's step
// lives at most min(10m, mfa.step_up_max_age) from its first factor: newChallenge), not a new
// lifetime after its factor passed, but it leaves the member continuationFloor at least; from
// without an expiry (a passkey sign-in, whose ceremony is both factors) gives it the sign-in
// step's own.
func (h *Handler) continueSignIn(c echo.Context, from *store.MFAChallenge, d challengeData, amr []string, at time.Time) (string, error) {
	d.Auto, d.AuthTime = true, at
	// It ends when the sign-in it continues would have, but leaves the member continuationFloor
	// at least to read and keep what it shows (the recovery codes after an enrolment that took
	// most of the step's time): its auth time stays the sign-in's (at), so the floor makes no
	// sign-in count as more recent (review s24 X-2).
	expires := from.ExpiresAt
	if floor := h.Now().Add(continuationFloor); !expires.IsZero() && expires.Before(floor) {
		expires = floor
	}
	ch := &store.MFAChallenge{Kind: kindSignIn, Subject: from.Subject, AuthRequestID: from.AuthRequestID, AMR: amr,
		ExpiresAt: expires}
	var err error
	if ch.Data, err = json.Marshal(d); err != nil {
		return "", err
	}
	raw, err := h.newChallenge(c, ch)
	if err != nil {
		return "", err
	}
	if d.Held && from.IDHash != "" {
		err := h.Flow.PlaceUpstream(c.Request().Context(), nil, store.HeldSignIn(from.IDHash), store.HeldSignIn(ch.IDHash), ch.ExpiresAt)
		if err != nil {
			return "", h.Flow.EndedOr(c, fmt.Errorf("hold upstream sign-in: %w", err))
		}
	}
	return stepURL(raw), nil
}
