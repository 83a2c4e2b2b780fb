package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// FactorResetter removes a member's second factors and leaves them a notice for their next
// sign-in, ending their sessions and revoking their grants in the same transaction
// (store.FactorStore.ResetFactorsAndDeactivate).
type FactorResetter interface {
	ResetFactorsAndDeactivate(ctx context.Context, d *store.Deactivation) (int, []*sso.Session, error)
}

// LogoutBuilder applies a deactivation (the reset's) with the back-channel logout events of
// the sessions it ends, queued in its transaction, and wakes the outbox once they are stored
// (backchannel.Logouts.Deactivate). The SessionEnder is asked for it: one that is not a
// LogoutBuilder ends sessions with no logouts.
type LogoutBuilder interface {
	Deactivate(ctx context.Context, d *store.Deactivation,
		deactivate func(context.Context, *store.Deactivation) ([]*sso.Session, error)) ([]*sso.Session, error)
}

// ResetFactors removes every second factor of one member (by login or subject): their
// authenticator app, recovery codes and passkeys. A reset is what follows a lost device or one
// an attacker may hold, so it also ends every session of the member (their apps get
// back-channel logout, as when an administrator ends a session) and revokes their grants
// (refresh and access tokens), in the same transaction: no session left open can enrol a new
// factor without signing in again. The member is told at their next sign-in, and signs in with
// the password alone until they enrol again (or must enrol at once where a second factor is
// required). Their admin console sessions end too. It returns how many factors it removed.
func (a *Service) ResetFactors(ctx context.Context, actor string, f Filter) (int, error) {
	if f.ID != "" || f.Client != "" || (f.Login == "" && f.Subject == "") {
		return 0, fmt.Errorf("%w: say whose factors: login or subject (no id or client)", ErrInvalid)
	}
	if a.Factors == nil {
		return 0, fmt.Errorf("%w: second factors are not kept by this store", ErrInvalid)
	}
	sub, err := a.subject(ctx, f)
	if err != nil {
		return 0, err
	}
	d := &store.Deactivation{Subject: sub, EndSessions: true}
	var n int
	reset := func(ctx context.Context, d *store.Deactivation) (ended []*sso.Session, err error) {
		n, ended, err = a.Factors.ResetFactorsAndDeactivate(ctx, d)
		return ended, err
	}
	// The console sessions end first, so that they are counted here and carry this reason
	// (the store also ends those of each bridge session the reset ends, and finds none left).
	consoles, cerr := a.endConsoleSessions(ctx, sub, "second factors reset")
	consoleDetail := consoleEnded(consoles, cerr)
	var ended []*sso.Session
	if lb, ok := a.SessionEnder.(LogoutBuilder); ok {
		ended, err = lb.Deactivate(ctx, d, reset)
	} else {
		ended, err = reset(ctx, d)
	}
	if err != nil {
		return 0, fmt.Errorf("admin: reset factors (%s): %w", consoleDetail, err)
	}
	// The reset is committed: it is audited whatever happened to the console sessions, and a
	// failure to end those is said next to what was done.
	a.Audit(ctx, &store.AuditEvent{Time: a.now(), Event: "mfa.reset", Subject: sub,
		Detail: fmt.Sprintf("%d factors removed by %s; %d sessions ended, grants revoked; %s", n, actor, len(ended), consoleDetail)})
	a.record(ctx, actor, "admin.mfa_reset", sub, "", fmt.Sprintf("%s (%d factors, %d sessions ended, grants revoked; %s)", f, n, len(ended), consoleDetail))
	if cerr != nil {
		return n, fmt.Errorf("%d factors removed and %d sessions ended, but not the console sessions: %w", n, len(ended), cerr)
	}
	return n, nil
}

// consoleEnded says, for an audit detail, how many console sessions an action ended, or that
// it could not end them.
func consoleEnded(n int, err error) string {
	if err != nil {
		return "console sessions NOT ended: " + err.Error()
	}
	return fmt.Sprintf("%d console sessions ended", n)
}

// InviteIssuer issues one-time enrolment invitations (mfa.Service.IssueInvite): the code, shown
// once, and its expiry; the store keeps its hash only.
type InviteIssuer interface {
	IssueInvite(ctx context.Context, subject, by string, lifetime time.Duration) (string, time.Time, error)
}

// Invitation is an issued enrolment invitation, as shown once to the administrator.
type Invitation struct {
	Subject   string    `json:"subject"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// IssueInvite issues a one-time code that lets one member (by login or subject) set up a first
// second factor where mfa.first_enrolment is invitation, voiding their earlier unused one. The
// administrator hands it to the member out of band; it is shown this once (the store keeps its
// hash) and lives mfa.DefaultInviteLifetime. Audited (admin.mfa_invite, and the service's
// mfa.invite_issued); the audit never holds the code.
func (a *Service) IssueInvite(ctx context.Context, actor string, f Filter) (*Invitation, error) {
	if f.ID != "" || f.Client != "" || (f.Login == "" && f.Subject == "") {
		return nil, fmt.Errorf("%w: say whose invitation: login or subject (no id or client)", ErrInvalid)
	}
	if a.Invites == nil {
		return nil, fmt.Errorf("%w: enrolment invitations are not kept by this store", ErrInvalid)
	}
	sub, err := a.subject(ctx, f)
	if err != nil {
		return nil, err
	}
	code, expires, err := a.Invites.IssueInvite(ctx, sub, actor, 0)
	if err != nil {
		return nil, fmt.Errorf("admin: issue invitation: %w", err)
	}
	a.record(ctx, actor, "admin.mfa_invite", sub, "", fmt.Sprintf("%s (expires %s)", f, expires.UTC().Format(time.RFC3339)))
	return &Invitation{Subject: sub, Code: code, ExpiresAt: expires}, nil
}
