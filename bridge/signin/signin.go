package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/legacy"
)

// Directory checks passwords and resolves typed logins (the AMS connector's directory).
type Directory interface {
	legacy.Authenticator
	MemberByLogin(ctx context.Context, login string) (*legacy.Member, error)
}

// Subjects is a member's subject (identity.SubjectMapper).
type Subjects interface {
	Subject(memberKey string) string
}

// Checker runs password checks. Every field is required unless its comment says otherwise.
type Checker struct {
	Directory Directory
	Subjects  Subjects
	Throttle  *throttle.Throttle
	// Access decides whether the member may sign in at all (Attempt.CheckAccess).
	Access access.Decider
	// Anonymous writes an audit row caused by an anonymous caller (audit.Log.Anonymous).
	Anonymous func(ctx context.Context, e *store.AuditEvent)
	// Logins hashes typed logins for the audit log.
	Logins *identity.LoginHasher
	Logger *slog.Logger
	Now    func() time.Time
	// Observer is told about every check's method and outcome (metrics). Optional.
	Observer Observer
}

// Observer is told about each sign-in: its method (Attempt.Method for a password check,
// MethodUpstream, the hand-off's) and its outcome (Outcome for a password check; "ok" or a short
// fixed reason code for the others). It must be cheap and safe for concurrent use.
type Observer interface {
	SignIn(method, outcome string)
}

// Sign-in methods (Attempt.Method).
const (
	MethodPassword      = "password"       // the sign-in form
	MethodPasswordGrant = "password_grant" // the token endpoint's password grant
	MethodUpstreamLink  = "upstream_link"  // the AMS password that links an upstream identity
	MethodUpstream      = "upstream"       // a sign-in through an upstream provider (bridge/web/upstream)
	MethodPasskey       = "passkey"        // a passkey alone, no login typed (bridge/web/mfa)
	// MethodPasswordReconfirm is the password typed again at a step-up (bridge/web/mfa: a
	// session older than mfa.step_up_max_age, before a first second factor): it confirms a
	// session that exists, it signs nobody in, so it is not counted as MethodPassword.
	MethodPasswordReconfirm = "password_reconfirm"
)

// OutcomeOK is the outcome of a sign-in that succeeded.
const OutcomeOK = "ok"

// OutcomeThrottled is Outcome's answer for a refusal by the throttle.
const OutcomeThrottled = "throttled"

// OutcomeThrottleUnavailable is Outcome's answer for a refusal because the throttle's shared
// counters could not be reached (fail closed).
const OutcomeThrottleUnavailable = "throttle_unavailable"

// Outcome names a check's result for metrics: "ok", OutcomeThrottled,
// OutcomeThrottleUnavailable, or legacy.Reason's code
// of the refusal (bad_credentials, locked_out ... ams_unavailable), a small fixed set.
func Outcome(err error) string {
	var te *ThrottledError
	if errors.As(err, &te) {
		return OutcomeThrottled
	}
	if errors.Is(err, throttle.ErrUnavailable) {
		return OutcomeThrottleUnavailable
	}
	return legacy.Reason(err)
}

// Attempt is one typed login and password.
type Attempt struct {
	Login, Password string
	ClientID, IP    string
	// Detail is added to the audit rows' detail ("grant=password"; "": none).
	Detail string
	// CheckAccess also asks Access whether the member may sign in at all (access.AnyClient);
	// a refusal counts as a failed sign-in (the password grant, which has no later step that
	// asks).
	CheckAccess bool
	// Method names the sign-in method for metrics (MethodPassword when empty).
	Method string
}

// ThrottledError: the throttle refuses the attempt for RetryAfter. AfterFailure: the refusal
// came with this attempt's failure (the member's own counter), not before the password check.
type ThrottledError struct {
	RetryAfter   time.Duration
	AfterFailure bool
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-in attempts: retry after %s", e.RetryAfter)
}

// Check checks a typed login and password. It returns the member, or: a *ThrottledError; an
// error wrapping legacy.ErrUnavailable (the throttle released: not the member's failure); the
// AMS's or access's refusal (legacy.ErrBadCredentials, a standing sentinel). Every failure is
// recorded (throttle and audit); a success clears the throttle's counters.
func (c *Checker) Check(ctx context.Context, a Attempt) (*legacy.Member, error) {
	m, err := c.check(ctx, a)
	if c.Observer != nil {
		method := a.Method
		if method == "" {
			method = MethodPassword
		}
		c.Observer.SignIn(method, Outcome(err))
	}
	return m, err
}

// check is Check without the observer.
func (c *Checker) check(ctx context.Context, a Attempt) (*legacy.Member, error) {
	r, err := c.Throttle.Reserve(ctx, a.Login, a.IP)
	if err != nil {
		return nil, c.unavailable(ctx, err)
	}
	delay, retryAfter, memberChecked := r.Delay, r.RetryAfter, r.Member
	if retryAfter > 0 {
		c.Anonymous(ctx, &store.AuditEvent{Event: "login.throttled", Login: c.Logins.Hash(a.Login), ClientID: a.ClientID, IP: a.IP, Detail: a.Detail})
		return nil, &ThrottledError{RetryAfter: retryAfter}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, fmt.Errorf("sign-in: %w", ctx.Err())
		}
	}
	m, err := c.authenticate(ctx, a.Login, a.Password)
	if err == nil && a.CheckAccess {
		if d := c.Access.Decide(ctx, m, "", access.AnyClient, c.Now()); !d.Allowed() {
			err = d.Cause // the standing's sentinel: its reason and message
		}
	}
	memberWait := time.Duration(0)
	switch {
	case err != nil:
	case memberChecked: // Reserve checked the member's counter
		if err := c.Throttle.Succeed(ctx, a.Login, a.IP); err != nil {
			// The counters stay as they were (the reservation counted as a failure): the safe
			// side, and the member is in.
			c.Logger.WarnContext(ctx, "sign-in throttle could not clear a success", "err", err)
		}
		return m, nil
	default: // the member's check and, unless it refuses, the success: one statement on a store
		if memberWait, err = c.Throttle.MemberRetryAfterSucceed(ctx, a.Login, a.IP, m.Key); err != nil {
			return nil, c.unavailable(ctx, err, a)
		}
		if memberWait == 0 {
			return m, nil
		}
		// The member's own counter (reached through other spellings of the login) refuses,
		// as it does after a wrong password: the answer tells nothing about the password.
		err = legacy.ErrBadCredentials
	}
	if errors.Is(err, legacy.ErrUnavailable) {
		if rerr := c.Throttle.Release(ctx, a.Login, a.IP); rerr != nil { // not the member's failure
			c.Logger.WarnContext(ctx, "sign-in throttle could not release an attempt", "err", rerr)
		}
		c.Logger.ErrorContext(ctx, "membership system unavailable", "err", err)
	}
	wait, ferr := c.failed(ctx, a, err, memberChecked || memberWait > 0)
	if ferr != nil {
		return nil, c.unavailable(ctx, ferr)
	}
	if wait = max(memberWait, wait); wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait, AfterFailure: true}
	}
	return nil, err
}

// unavailable is the error of a check the throttle's counters could not record (err wraps
// throttle.ErrUnavailable): the sign-in is refused, never let through, and the person is asked
// to try again later (Message); it wraps legacy.ErrUnavailable, so every sign-in path answers
// it as it answers an unreachable AMS (503, temporarily_unavailable). A reserved attempt
// (after Check) is released when the counters allow it.
func (c *Checker) unavailable(ctx context.Context, err error, reserved ...Attempt) error {
	c.Logger.ErrorContext(ctx, "sign-in throttle unavailable", "err", err)
	for _, a := range reserved {
		_ = c.Throttle.Release(ctx, a.Login, a.IP) // best effort: the counters failed already
	}
	return fmt.Errorf("sign-in: %w: %w", legacy.ErrUnavailable, err)
}

// Hash is what the audit log keeps of a typed login.
func (c *Checker) Hash(login string) string { return c.Logins.Hash(login) }

// authenticate checks a typed login and password against the AMS; a login with invisible code
// points is refused as bad credentials without asking the AMS.
func (c *Checker) authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	if !identity.LoginUsable(login) {
		return nil, fmt.Errorf("%w: login has invisible characters", legacy.ErrBadCredentials)
	}
	return c.Directory.Authenticate(ctx, login, password)
}

// failed records a failed password check: the throttle counts it against the member the login
// resolves to as well as the typed login (so variants of one login share a limit), and the
// audit row has the login's keyed hash and the member's subject when resolved. It returns how
// long the member's counter refused this attempt (0: not) when Check did not know the member
// behind this login yet (memberChecked false), and the throttle's error (ErrUnavailable).
func (c *Checker) failed(ctx context.Context, a Attempt, err error, memberChecked bool) (time.Duration, error) {
	detail := legacy.Reason(err)
	if a.Detail != "" {
		detail += " " + a.Detail
	}
	ev := &store.AuditEvent{Event: "login.failure", Login: c.Logins.Hash(a.Login), ClientID: a.ClientID, IP: a.IP, Detail: detail}
	var retryAfter time.Duration
	var terr error // the throttle's
	if !errors.Is(err, legacy.ErrUnavailable) && identity.LoginUsable(a.Login) {
		m, merr := c.memberByLogin(ctx, a.Login)
		counter := ""
		switch {
		case merr == nil:
			counter = m.Key
			ev.Subject = c.Subjects.Subject(m.Key)
		default:
			// An unknown login gets a member counter of its own (it counts as its login's does),
			// so that its failure costs the throttle the same work as a known login's: with
			// the counters in the store that work is round trips, and a difference would tell
			// which logins exist. A login whose look-up fails otherwise (a member row the
			// directory cannot read, answered as bad credentials like an unknown login; the AMS
			// gone between the two calls) is counted the same way, else it alone would cost no
			// member counter's work. That failure is logged, never the typed login.
			if !errors.Is(merr, legacy.ErrNotFound) {
				msg := merr.Error()
				if a.Login != "" {
					msg = strings.ReplaceAll(msg, a.Login, "(login)")
				}
				c.Logger.WarnContext(ctx, "sign-in: the login of a failed attempt could not be looked up; counted as an unknown login", "err", msg)
			}
			counter = unknownMember(a.Login)
		}
		switch {
		case !memberChecked: // the member's check and the failure: one statement on a store
			retryAfter, terr = c.Throttle.MemberRetryAfterFail(ctx, a.Login, counter)
		default:
			terr = c.Throttle.FailMember(ctx, a.Login, counter)
		}
	}
	c.Anonymous(ctx, ev)
	return retryAfter, terr
}

// freshLookup is a directory whose MemberByLogin may answer from a cache (legacy/cache) and
// that can also ask the AMS itself.
type freshLookup interface {
	FreshMemberByLogin(ctx context.Context, login string) (*legacy.Member, error)
}

// memberByLogin is the look-up of a typed login after a wrong password: always the AMS, never a
// cache, so that a login that exists (cached by an earlier failure or the member's sign-in) and
// one that does not (never cached) cost the same round trips and take the same time.
func (c *Checker) memberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	if f, ok := c.Directory.(freshLookup); ok {
		return f.FreshMemberByLogin(ctx, login)
	}
	return c.Directory.MemberByLogin(ctx, login)
}

// unknownMember is the member counter of a login that resolves to no member: never an AMS key
// (those have no NUL).
func unknownMember(login string) string { return "\x00login:" + identity.CanonicalLogin(login) }

// BadCredentials is what a person is told after a wrong login or password (and an unknown one:
// the same words, so no message reveals whether a login exists).
const BadCredentials = "The username or password is not right. Check them and try again."

// Message is what a person is told about a failed sign-in. A status message is only given
// after the password was verified (the AMS reports status only then), except the lockout's,
// given whatever the password (legacy.Standing.BeforePassword).
func Message(err error) string {
	if msg := access.StandingMessage(err); msg != "" {
		return msg
	}
	if errors.Is(err, throttle.ErrUnavailable) {
		return "Signing in is not possible right now. Please try again in a few minutes."
	}
	if errors.Is(err, legacy.ErrUnavailable) {
		return "The membership system cannot be reached right now, so we cannot check your password. Please try again in a few minutes."
	}
	return BadCredentials
}
