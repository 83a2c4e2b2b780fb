package mfa

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// The WebAuthn ceremonies' JSON endpoints (static/passkeys.js calls them). Each ceremony's
// server-side state is a challenge of its own kind (single use, bound to the browser): begin
// stores it, finish passes it once before checking the answer.
const (
	PathPasskeyLoginBegin     = "/login/passkey/begin"
	PathPasskeyLoginFinish    = "/login/passkey/finish"
	PathPasskeyStepBegin      = "/login/mfa/passkey/begin"
	PathPasskeyStepFinish     = "/login/mfa/passkey/finish"
	PathPasskeyRegisterBegin  = "/account/security/passkey/begin"
	PathPasskeyRegisterFinish = "/account/security/passkey/finish"
)

// Ceremony kinds.
const (
	kindPasskeyLogin    = "passkey-login"    // a sign-in with a passkey alone
	kindPasskeyStep     = "passkey-step"     // a passkey as the second factor of a step challenge
	kindPasskeyRegister = "passkey-register" // adding a passkey on the security page
)

// maxAnswer bounds a browser's WebAuthn answer (JSON).
const maxAnswer = 64 << 10

func (h *Handler) mountPasskeys(e *echo.Echo) {
	if h.MFA.WebAuthn == nil {
		return
	}
	e.POST(PathPasskeyLoginBegin, h.LimitAnonymous("passkey", true, h.passkeyLoginBegin))
	e.POST(PathPasskeyLoginFinish, h.LimitAnonymous("passkey", true, h.passkeyLoginFinish))
	// The second-factor ceremonies write a challenge and, when refused, an audit row each, and
	// since a passkey answer is not counted against the member's wrong codes (10ba5c7) nothing
	// else bounds them: the same per-address limit as the passkey sign-in.
	e.POST(PathPasskeyStepBegin, h.LimitAnonymous("passkey", true, h.passkeyStepBegin))
	e.POST(PathPasskeyStepFinish, h.LimitAnonymous("passkey", true, h.passkeyStepFinish))
	e.POST(PathPasskeyRegisterBegin, h.passkeyRegisterBegin)
	e.POST(PathPasskeyRegisterFinish, h.passkeyRegisterFinish)
}

// PasskeyLogin reports whether the login page offers a passkey sign-in.
func (h *Handler) PasskeyLogin() bool { return h.MFA.WebAuthn != nil }

func jsonError(c echo.Context, status int, msg string) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, map[string]string{"error": msg})
}

// jsonKept answers a registration's finish refused before it used its ceremony (an
// invitation code missing, wrong or throttled): "kept" tells the page (static/passkeys.js) to
// send the same answer again, with the form as it is then, instead of beginning a new ceremony,
// which would make a second passkey on the device; "invite" that the form needs the code field
// (the factor the page saw was removed meanwhile, so the page did not show it).
func jsonKept(c echo.Context, status int, msg string, invite bool) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	body := map[string]any{"error": msg, "kept": true}
	if invite {
		body["invite"] = true
	}
	return c.JSON(status, body)
}

func jsonNext(c echo.Context, next string) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]string{"next": next})
}

const msgPasskeyFailed = "That passkey was not accepted. Try again, or use another way to sign in."

// ceremonyData is a ceremony challenge's Data: the library's session and, for a second-factor
// ceremony, the step challenge it answers.
type ceremonyData struct {
	Session json.RawMessage `json:"s"`
	Step    string          `json:"step,omitempty"`
}

// beginCeremony stores a ceremony and answers the browser with its id and options.
func (h *Handler) beginCeremony(c echo.Context, ch *store.MFAChallenge, cer *mfa.Ceremony, step string) error {
	data, err := json.Marshal(ceremonyData{Session: cer.Session, Step: step})
	if err != nil {
		return err
	}
	ch.Data = data
	raw, err := h.newChallenge(c, ch)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"ceremony": raw, "options": cer.Options})
}

// errCeremonyGone is peekCeremony's and takeCeremony's refusal: the form names no live
// ceremony of the kind for this browser (none, unknown or expired, another kind, passed
// already, bound to another browser). Any other error of theirs is a server fault (the
// store's read or write failed): the caller returns it (500/503), never "expired".
var errCeremonyGone = errors.New("no live ceremony")

// ceremonyFault is err unless it is errCeremonyGone's: a server fault for the caller to return.
func ceremonyFault(err error) error {
	if err == nil || errors.Is(err, errCeremonyGone) {
		return nil
	}
	return fmt.Errorf("passkey ceremony: %w", err)
}

// peekCeremony reads, without passing it, the ceremony the form names, of kind: a live one
// not passed yet.
func (h *Handler) peekCeremony(c echo.Context, kind string) (*store.MFAChallenge, error) {
	raw := c.FormValue("ceremony")
	if raw == "" || len(raw) > 128 {
		return nil, fmt.Errorf("%w: no ceremony", errCeremonyGone)
	}
	ch, err := h.Store.MFAChallenge(c.Request().Context(), challengeHash(raw))
	if errors.Is(err, sso.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", errCeremonyGone, err)
	}
	if err != nil {
		return nil, err
	}
	if ch.Kind != kind {
		return nil, fmt.Errorf("%w: ceremony of kind %q, want %q", errCeremonyGone, ch.Kind, kind)
	}
	if ch.Passed {
		return nil, fmt.Errorf("%w: ceremony passed already", errCeremonyGone)
	}
	return ch, nil
}

// takeCeremony passes (once) the ceremony the form names, of kind, for this browser.
func (h *Handler) takeCeremony(c echo.Context, kind string) (*store.MFAChallenge, *ceremonyData, error) {
	ctx := c.Request().Context()
	ch, err := h.peekCeremony(c, kind)
	if err != nil {
		return nil, nil, err
	}
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return nil, nil, err
	}
	if err := h.Store.PassMFAChallenge(ctx, ch.IDHash, browser, h.Now()); err != nil {
		if errors.Is(err, sso.ErrNotFound) || errors.Is(err, sso.ErrAuthRequestUsed) || errors.Is(err, sso.ErrAuthRequestElsewhere) {
			return nil, nil, fmt.Errorf("%w: %v", errCeremonyGone, err)
		}
		return nil, nil, err
	}
	var d ceremonyData
	if err := json.Unmarshal(ch.Data, &d); err != nil {
		return nil, nil, err
	}
	return ch, &d, nil
}

func answer(c echo.Context) []byte {
	a := c.FormValue("credential")
	if len(a) > maxAnswer {
		return nil
	}
	return []byte(a)
}

// ---- passkey alone ----

func (h *Handler) passkeyLoginBegin(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return jsonError(c, http.StatusForbidden, "This page had expired. Reload it and try again.")
	}
	// The request pending and this browser's (bound now if it was not), answered in the
	// endpoint's JSON as the finish answers it: never the error page (the script reads JSON),
	// nor, for a silent request (prompt=none), an answer at the app (a fetch is no navigation).
	ctx := c.Request().Context()
	ar, err := h.Flow.Provider.AuthRequest(ctx, c.FormValue("id"))
	if err != nil {
		return h.passkeyRequestError(c, nil, err)
	}
	if _, err := h.Flow.Provider.Client(ctx, ar.ClientID); errors.Is(err, sso.ErrNotFound) {
		return jsonError(c, http.StatusBadRequest, "The app that sent you here is no longer registered with this sign-in service.")
	} else if err != nil {
		return fmt.Errorf("read client %q of auth request: %w", ar.ClientID, err) // 500, or 503 when the store is unavailable
	}
	if err := h.Flow.ClaimRequest(c, ar); err != nil {
		return h.passkeyRequestError(c, ar, err)
	}
	cer, err := h.MFA.BeginDiscoverable()
	if err != nil {
		return err
	}
	return h.beginCeremony(c, &store.MFAChallenge{Kind: kindPasskeyLogin, AuthRequestID: ar.ID}, cer, "")
}

// passkeyLoginFinish signs a member in with a passkey alone: the same AMS status rules as after
// a password decide whether they may (Flow.Member), then the session opens and the login page
// finishes the request as for any sign-in.
func (h *Handler) passkeyLoginFinish(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return jsonError(c, http.StatusForbidden, "This page had expired. Reload it and try again.")
	}
	ctx := c.Request().Context()
	ch, d, err := h.takeCeremony(c, kindPasskeyLogin)
	if ferr := ceremonyFault(err); ferr != nil {
		return ferr
	}
	if err != nil {
		h.Logger.InfoContext(ctx, "passkey sign-in refused", "err", err)
		return jsonError(c, http.StatusBadRequest, "This sign-in step had expired. Reload the page and try again.")
	}
	// The request first: one gone or finished meanwhile is said so, and neither the passkey is
	// used nor a session opened (the continuation below completes a pending one by
	// compare-and-set, with its session, in one transaction).
	ar, err := h.Flow.Provider.AuthRequest(ctx, ch.AuthRequestID)
	if err == nil {
		err = h.Flow.ClaimRequest(c, ar)
	}
	if err != nil {
		return h.passkeyRequestError(c, ar, err)
	}
	sub, method, err := h.MFA.FinishDiscoverable(ctx, d.Session, answer(c), c.RealIP())
	if err != nil {
		h.observe(passkeyOutcome(err))
		return h.passkeyError(c, err, "passkey sign-in")
	}
	// A new sign-in: the member as the AMS has them now, not as the profile cache last saw them.
	m, err := h.Flow.SignInMember(ctx, sub)
	h.observe(signin.Outcome(err))
	if err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			h.Audit(ctx, &store.AuditEvent{Event: "login.failure", Subject: sub, IP: c.RealIP(), Detail: "passkey: " + legacy.Reason(err)})
			return jsonError(c, http.StatusForbidden, signin.Message(err))
		}
		return jsonError(c, http.StatusServiceUnavailable, "The membership system cannot be reached right now. Please try again in a few minutes.")
	}
	amr := []string{method, mfa.AMRMFA}
	// The passkey is both factors; the step still shows the member a factor-reset notice first.
	ff := &authflow.FirstFactor{Member: m, AMR: amr, AR: ar}
	ff.Client, _ = h.Flow.Provider.Client(ctx, ar.ClientID)
	next, err := h.AfterFirstFactor(c, ff)
	if err != nil {
		return err
	}
	if next != "" {
		return jsonNext(c, next)
	}
	// No session until the request's compare-and-set: the page follows a continuation, which
	// finishes the request with the session written then (a request gone or finished by then
	// is refused there, and nothing is written).
	next, err = h.continueSignIn(c, &store.MFAChallenge{Subject: h.Subjects.Subject(m.Key), AuthRequestID: ar.ID}, challengeData{}, amr, h.Now())
	if next == "" {
		return err
	}
	return jsonNext(c, next)
}

// passkeyRequestError answers a passkey sign-in whose request is no longer this browser's to
// finish in one JSON line: authflow's RequestState decides the answer (gone, finished already,
// bound to another browser) and writes its audit row, as for the error page.
func (h *Handler) passkeyRequestError(c echo.Context, ar *sso.AuthRequest, err error) error {
	a, ok := h.Flow.RequestState(c, ar, nil, err)
	if !ok {
		return err
	}
	return jsonError(c, a.Status, a.Short)
}

// observe counts a passkey sign-in by outcome (metrics).
func (h *Handler) observe(outcome string) {
	if h.Observer != nil {
		h.Observer.SignIn(signin.MethodPasskey, outcome)
	}
}

// passkeyOutcome names a failed passkey ceremony for metrics: refused (an unknown credential,
// a bad signature, a sign count going backwards) or error.
func passkeyOutcome(err error) string {
	if errors.Is(err, mfa.ErrPasskey) || errors.Is(err, mfa.ErrNoFactor) {
		return "refused"
	}
	return "error"
}

// ---- passkey as the second factor ----

func (h *Handler) passkeyStepBegin(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return jsonError(c, http.StatusForbidden, "This page had expired. Reload it and try again.")
	}
	l, err := h.load(c, c.FormValue("c"))
	if l == nil {
		return err
	}
	cer, err := h.MFA.BeginLogin(c.Request().Context(), l.ch.Subject)
	if err != nil {
		if errors.Is(err, mfa.ErrNoFactor) {
			return jsonError(c, http.StatusBadRequest, "You have no passkey here: use another way.")
		}
		return err
	}
	return h.beginCeremony(c, &store.MFAChallenge{Kind: kindPasskeyStep, Subject: l.ch.Subject}, cer, l.ch.IDHash)
}

func (h *Handler) passkeyStepFinish(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return jsonError(c, http.StatusForbidden, "This page had expired. Reload it and try again.")
	}
	ctx := c.Request().Context()
	l, err := h.load(c, c.FormValue("c"))
	if l == nil {
		return err
	}
	ch, d, err := h.takeCeremony(c, kindPasskeyStep)
	if ferr := ceremonyFault(err); ferr != nil {
		// The store's fault, not the member's: the step stays (nothing counted, nothing
		// ended), and the router answers 500 (503 for an unavailable store).
		return ferr
	}
	if err != nil || d.Step != l.ch.IDHash || ch.Subject != l.ch.Subject {
		h.Logger.InfoContext(ctx, "passkey step refused", "err", err)
		return jsonError(c, http.StatusBadRequest, "This sign-in step had expired. Reload the page and try again.")
	}
	method, err := h.MFA.FinishLogin(ctx, l.ch.Subject, d.Session, answer(c), c.RealIP())
	if err != nil {
		return h.passkeyError(c, err, "passkey step")
	}
	next, err := h.pass(c, l, mfa.WithFactor(l.ch.AMR, method), false) // the page goes on to next itself
	if next == "" {
		return err
	}
	return jsonNext(c, next)
}

// ---- adding a passkey ----

func (h *Handler) passkeyRegisterBegin(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return jsonError(c, http.StatusForbidden, "This page had expired. Reload it and try again.")
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
	if !mayAddFactor(f, m, sess.AMR) {
		return h.passkeyEnrolElsewhere(c, sess.Subject, "passkey registration")
	}
	if msg := reconfirmText(h.reconfirm(f, m, sess)); msg != "" {
		return jsonError(c, http.StatusForbidden, msg)
	}
	// Checked (not used) here too, so that no passkey is made on the device for a registration
	// that its finish would refuse: a missing code, or one that is wrong, used or expired (a
	// read, counted with the member's wrong second-factor codes as at the finish, so that this
	// step guesses no faster); finish uses it.
	invite, ok := enrolInvite(c, h.MFA.InviteNeeded(f, m, sess.AMR))
	if !ok {
		return jsonError(c, http.StatusBadRequest, msgInviteMissing)
	}
	if invite != "" {
		if err := h.MFA.CheckInvite(ctx, sess.Subject, invite, c.RealIP(), "passkey, before registration"); err != nil {
			return h.passkeyError(c, err, "passkey registration")
		}
	}
	cer, err := h.MFA.BeginRegistration(ctx, sess.Subject, m)
	if err != nil {
		return err
	}
	return h.beginCeremony(c, &store.MFAChallenge{Kind: kindPasskeyRegister, Subject: sess.Subject, SessionID: sess.ID}, cer, "")
}

func (h *Handler) passkeyRegisterFinish(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return jsonError(c, http.StatusForbidden, "This page had expired. Reload it and try again.")
	}
	sess, m, err := h.signedIn(c)
	if sess == nil {
		return err
	}
	ctx := c.Request().Context()
	expired := func(err error) error {
		h.Logger.InfoContext(ctx, "passkey registration refused", "err", err)
		return jsonError(c, http.StatusBadRequest, "This step had expired. Reload the page and try again.")
	}
	// What the form itself lacks is refused before the ceremony is passed, so that the member
	// may send the same passkey again with what was missing: the authenticator has made the
	// passkey already, and a new ceremony would make another.
	if ch, err := h.peekCeremony(c, kindPasskeyRegister); ceremonyFault(err) != nil {
		return ceremonyFault(err)
	} else if err != nil || ch.SessionID != sess.ID || ch.Subject != sess.Subject {
		return expired(err)
	}
	// Asked again of the session as it is now: begun in a hand-off session that a password
	// sign-in has replaced since (another tab), a first passkey is not added.
	f, err := h.MFA.Factors(ctx, sess.Subject)
	if err != nil {
		return err
	}
	if !mayAddFactor(f, m, sess.AMR) {
		return h.passkeyEnrolElsewhere(c, sess.Subject, "passkey registration")
	}
	if msg := reconfirmText(h.reconfirm(f, m, sess)); msg != "" {
		// As at the begin: the step-up (or, for a first passkey, the sign-in) must still be
		// recent when the passkey is stored, not only when the ceremony began (it lives longer
		// than mfa.step_up_max_age allows; review s21 X3-1). The ceremony is not used up by
		// this refusal.
		return jsonError(c, http.StatusForbidden, msg)
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" || len(name) > 64 {
		name = "Passkey"
	}
	// Asked again too: a first passkey needs an invitation (mfa.first_enrolment: invitation),
	// used in the transaction that stores the passkey. A missing one, or one that cannot be
	// used (read as at the begin, counted with the member's wrong codes), leaves the ceremony
	// as it was. Once passed, a refusal only the store's transaction finds (the invitation used
	// or the member's other factor removed meanwhile, in another tab) or a refused answer ends
	// it: two finishes of one ceremony must not store two passkeys, so it is passed before
	// the answer is checked, and the page begins a new one.
	invite, ok := enrolInvite(c, h.MFA.InviteNeeded(f, m, sess.AMR))
	if !ok {
		return jsonKept(c, http.StatusBadRequest, msgInviteMissing, true)
	}
	if invite != "" {
		if err := h.MFA.CheckInvite(ctx, sess.Subject, invite, c.RealIP(), "passkey, before its finish"); err != nil {
			return h.passkeyRefusal(c, err, "passkey registration", true)
		}
	}
	ch, d, err := h.takeCeremony(c, kindPasskeyRegister)
	if ferr := ceremonyFault(err); ferr != nil {
		return ferr
	}
	if err != nil || ch.SessionID != sess.ID || ch.Subject != sess.Subject {
		return expired(err)
	}
	method, err := h.MFA.FinishRegistration(ctx, sess.Subject, m, sess.AMR, d.Session, answer(c), name, c.RealIP(), invite)
	if err != nil {
		return h.passkeyError(c, err, "passkey registration")
	}
	// The member just used the new passkey in this session: it counts as its second factor.
	if err := h.upgrade(c, sess, method); err != nil {
		return err
	}
	return jsonNext(c, PathSecurity+"?done=passkey-added")
}

// reconfirmText is a passkey registration's answer when the member must confirm it's them
// first (reconfirm's what; "" when not): the security page, reloaded, offers it.
func reconfirmText(what string) string {
	switch what {
	case confirmFactor:
		return "First confirm it's you with your second factor: reload the page."
	case confirmPassword:
		return "First confirm it's you with your password: reload the page."
	case confirmHandOff:
		return handOffAgainText
	}
	return ""
}

// passkeyEnrolElsewhere answers a passkey registration that would be a first factor of a
// member the AMS asks one of, outside a session of the AMS website's hand-off.
func (h *Handler) passkeyEnrolElsewhere(c echo.Context, subject, where string) error {
	h.auditEnrolRefused(c, subject, where)
	return jsonError(c, http.StatusForbidden, enrolElsewhereText)
}

// passkeyError answers a failed ceremony. Passkey answers are not throttled per member
// (mfa.Service.FinishLogin says why): none is refused as too many.
func (h *Handler) passkeyError(c echo.Context, err error, what string) error {
	return h.passkeyRefusal(c, err, what, false)
}

// passkeyRefusal is passkeyError; kept: a refusal of the invitation comes before the ceremony
// was used, and says so (jsonKept).
func (h *Handler) passkeyRefusal(c echo.Context, err error, what string, kept bool) error {
	var te *mfa.ThrottledError
	if errors.Is(err, mfa.ErrWrongInvite) || errors.Is(err, mfa.ErrInviteMissing) || errors.As(err, &te) || errors.Is(err, throttle.ErrUnavailable) {
		// The invitation of a first passkey (wrong, or missing: the factor the page saw was
		// removed meanwhile): answered as the step answers a typed code.
		if te != nil {
			c.Response().Header().Set("Retry-After", fmt.Sprint(int(te.RetryAfter.Seconds())+1))
		}
		msg, status := codeError(err)
		if kept {
			return jsonKept(c, status, msg, errors.Is(err, mfa.ErrInviteMissing))
		}
		return jsonError(c, status, msg)
	}
	if errors.Is(err, mfa.ErrPasskey) || errors.Is(err, mfa.ErrNoFactor) {
		h.Logger.InfoContext(c.Request().Context(), what+" refused", "err", err)
		return jsonError(c, http.StatusUnauthorized, msgPasskeyFailed)
	}
	return err
}

// LimitAnonymous is set from the flow: passkey sign-ins are anonymous writes.
func (h *Handler) LimitAnonymous(name string, api bool, next echo.HandlerFunc) echo.HandlerFunc {
	return h.Flow.LimitAnonymous(name, api, next)
}
