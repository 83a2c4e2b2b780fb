package mfa

import (
	"context"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// countingFactors is a FactorStore that counts the reads of Factors.
type countingFactors struct {
	store.FactorStore
	totp, passkeys int
	confirmed      bool
}

func (c *countingFactors) TOTP(_ context.Context, subject string) (*store.TOTPFactor, error) {
	c.totp++
	if !c.confirmed {
		return nil, sso.ErrNotFound
	}
	return &store.TOTPFactor{Subject: subject, Confirmed: true}, nil
}

func (c *countingFactors) WebAuthnCredentials(context.Context, string) ([]*store.WebAuthnCredential, error) {
	c.passkeys++
	return nil, nil
}

func (c *countingFactors) RecoveryCodesLeft(context.Context, string) (int, error) { return 10, nil }

// TestFactorsMemo: within a context from WithFactorsMemo a member's factors are read once
// (a sign-in asks twice in one request); another member's are read; without the memo every
// call reads.
func TestFactorsMemo(t *testing.T) {
	st := &countingFactors{}
	s := &Service{Store: st}
	ctx := WithFactorsMemo(t.Context())
	for range 3 {
		if f, err := s.Factors(ctx, "alice"); err != nil || f.Any() {
			t.Fatal(f, err)
		}
	}
	if st.totp != 1 || st.passkeys != 1 {
		t.Errorf("memo: %d TOTP and %d passkey reads for one member, want 1 and 1", st.totp, st.passkeys)
	}
	st.confirmed = true
	if f, err := s.Factors(ctx, "bob"); err != nil || !f.TOTP {
		t.Errorf("another member in the same request: %+v %v, want read (TOTP)", f, err)
	}
	if ctx2 := WithFactorsMemo(ctx); ctx2 != ctx {
		t.Error("WithFactorsMemo twice nests a second memo")
	}
	st.totp = 0
	for range 2 {
		if _, err := s.Factors(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if st.totp != 2 {
		t.Errorf("without the memo: %d reads, want 2", st.totp)
	}
}
