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

// presenceFactors is countingFactors with FactorPresence and the reset notice.
type presenceFactors struct {
	countingFactors
	presence, takes int
	notice          bool
}

func (p *presenceFactors) FactorPresence(context.Context, string) (store.FactorPresence, error) {
	p.presence++
	return store.FactorPresence{TOTP: p.confirmed, ResetNotice: p.notice}, nil
}

func (p *presenceFactors) TakeFactorResetNotice(context.Context, string) (bool, error) {
	p.takes++
	return false, nil
}

func (p *presenceFactors) FactorResetNotice(context.Context, string) (bool, error) {
	p.takes++
	return p.notice, nil
}

// TestSignInFactors: a sign-in of a member with no factor and no notice reads the store once
// (FactorPresence), and the request's later Factors reads nothing more; a member with a factor
// gets them read as Factors reads them; a notice is reported and left for the session to use up.
func TestSignInFactors(t *testing.T) {
	st := &presenceFactors{}
	s := &Service{Store: st}
	ctx := WithFactorsMemo(t.Context())
	f, notice, err := s.SignInFactors(ctx, "alice")
	if err != nil || f.Any() || notice {
		t.Fatalf("member without factors: %+v %v %v", f, notice, err)
	}
	if _, err := s.Factors(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if st.presence != 1 || st.totp != 0 || st.passkeys != 0 || st.takes != 0 {
		t.Errorf("member without factors: %d presence, %d TOTP, %d passkey reads, %d notice reads; want 1, 0, 0, 0",
			st.presence, st.totp, st.passkeys, st.takes)
	}
	st.confirmed, st.notice = true, true
	f, notice, err = s.SignInFactors(WithFactorsMemo(t.Context()), "bob")
	if err != nil || !f.TOTP || f.RecoveryLeft != 10 || !notice {
		t.Fatalf("member with TOTP and a notice: %+v %v %v", f, notice, err)
	}
	if _, notice, err = s.SignInFactors(WithFactorsMemo(t.Context()), "bob"); err != nil || !notice {
		t.Errorf("notice not told again before a session used it up: %v %v", notice, err)
	}
	if st.takes != 0 {
		t.Errorf("%d notice reads or takes besides FactorPresence, want 0", st.takes)
	}
}
