package admin

import (
	"context"
	"fmt"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// FactorResetter removes a member's second factors and leaves them a notice for their next
// sign-in, ending their sessions and revoking their grants in the same transaction
// (store.FactorStore.ResetFactorsAndDeactivate).
type FactorResetter interface {
	ResetFactorsAndDeactivate(ctx context.Context, d *store.Deactivation) (int, []*sso.Session, error)
}

// LogoutBuilder builds the back-channel logout events of ended sessions, which the reset queues
// in its transaction, and wakes the outbox once they are stored (backchannel.Logouts). The
// SessionEnder is asked for it: one that is not a LogoutBuilder ends sessions with no logouts.
type LogoutBuilder interface {
	EndedSessions(ctx context.Context) func([]*sso.Session) []*store.OutboxEvent
	Queued()
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
	lb, _ := a.SessionEnder.(LogoutBuilder)
	if lb != nil {
		d.Logout = lb.EndedSessions(ctx)
	}
	// The console sessions end first, so that they are counted here and carry this reason
	// (the store also ends those of each bridge session the reset ends, and finds none left).
	consoles, cerr := a.endConsoleSessions(ctx, sub, "second factors reset")
	consoleDetail := consoleEnded(consoles, cerr)
	n, ended, err := a.Factors.ResetFactorsAndDeactivate(ctx, d)
	if err != nil {
		return 0, fmt.Errorf("admin: reset factors (%s): %w", consoleDetail, err)
	}
	if lb != nil && len(ended) > 0 {
		lb.Queued()
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
