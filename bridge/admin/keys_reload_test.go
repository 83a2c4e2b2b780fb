package admin_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// reloadFails is a key manager whose withdrawals stand in the store but whose reload afterwards
// fails (sso.ErrRetiredNotReloaded), with or without a successor.
type reloadFails struct{ successor *sso.KeyInfo }

func (reloadFails) Keys(context.Context) ([]sso.KeyInfo, error) { return nil, nil }
func (r reloadFails) Retire(_ context.Context, kid string) (*sso.KeyInfo, error) {
	return r.successor, fmt.Errorf("keys: retired %s, but %w: database is locked", kid, sso.ErrRetiredNotReloaded)
}

// TestRetireStandsWhenReloadFails (end-of-session review s13 RV3-1): a withdrawal that the store
// holds is reported and audited as done when only this process's reload afterwards failed, also
// when the key needed no successor (the one published ahead of its turn); before, that case was
// answered as a failure, without the audit line, and a retry said "no published signing key".
// A withdrawal that failed is still an error.
func TestRetireStandsWhenReloadFails(t *testing.T) {
	ctx := context.Background()
	for _, succ := range []*sso.KeyInfo{nil, {ID: "new", Algorithm: "RS256", Signing: true}} {
		f := newFixture(t)
		f.svc.SigningKeyManager = reloadFails{successor: succ}
		if _, err := f.svc.RetireSigningKey(ctx, "tester", "old"); err != nil {
			t.Errorf("successor %v: %v, want the withdrawal reported as done", succ, err)
		}
		if !slices.Contains(f.events(), "admin.signing_key_retired") {
			t.Errorf("successor %v: no admin.signing_key_retired audit line: %v", succ, f.events())
		}
	}
	f := newFixture(t)
	f.svc.SigningKeyManager = failingRetire{}
	if _, err := f.svc.RetireSigningKey(ctx, "tester", "old"); err == nil || errors.Is(err, sso.ErrRetiredNotReloaded) {
		t.Errorf("a failed withdrawal: %v, want an error", err)
	}
	if slices.Contains(f.events(), "admin.signing_key_retired") {
		t.Error("a failed withdrawal was audited as done")
	}
}

type failingRetire struct{}

func (failingRetire) Keys(context.Context) ([]sso.KeyInfo, error) { return nil, nil }
func (failingRetire) Retire(context.Context, string) (*sso.KeyInfo, error) {
	return nil, errors.New("keys: retire old: database is locked")
}
