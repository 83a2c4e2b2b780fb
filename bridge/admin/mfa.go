package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// FactorResetter removes a member's second factors and leaves them a notice for their next
// sign-in (store.FactorStore.ResetFactors).
type FactorResetter interface {
	ResetFactors(ctx context.Context, subject string, at time.Time) (int, error)
}

// ResetFactors removes every second factor of one member (by login or subject): their
// authenticator app, recovery codes and passkeys. The member is told at their next sign-in,
// and signs in with the password alone until they enrol again (or must enrol at once where a
// second factor is required). It returns how many factors it removed.
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
	n, err := a.Factors.ResetFactors(ctx, sub, a.now())
	if err != nil {
		return 0, fmt.Errorf("admin: reset factors: %w", err)
	}
	a.Audit(ctx, &store.AuditEvent{Time: a.now(), Event: "mfa.reset", Subject: sub,
		Detail: fmt.Sprintf("%d factors removed by %s", n, actor)})
	a.record(ctx, actor, "admin.mfa_reset", sub, "", fmt.Sprintf("%s (%d)", f, n))
	return n, nil
}
