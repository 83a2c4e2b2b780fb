package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/throttle"
)

const testOrigin = "http://localhost:8080"

// softKey is a software passkey (bridgetest.Passkey) registered for subject straight in the
// store, as FinishRegistration stores one.
type softKey struct{ *bridgetest.Passkey }

func addSoftKey(t *testing.T, s *Service, subject string) softKey {
	t.Helper()
	ctx := context.Background()
	u, _, err := s.user(ctx, subject, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := bridgetest.NewPasskey(t, u.handle)
	if err := s.Store.AddWebAuthnCredential(ctx, &store.WebAuthnCredential{ID: k.ID(), Subject: subject, Name: "soft",
		Data: k.Credential(t), CreatedAt: s.Now()}); err != nil {
		t.Fatal(err)
	}
	return softKey{k}
}

// assert answers a ceremony (its server-side session) as the browser would.
func (k softKey) assert(t *testing.T, session []byte) []byte {
	t.Helper()
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		t.Fatal(err)
	}
	return k.Assert(t, sd.RelyingPartyID, testOrigin, sd.Challenge)
}

func passkeyService(t *testing.T) *Service {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	issuer, _ := url.Parse(testOrigin)
	wa, err := NewWebAuthn(issuer, "Test")
	if err != nil {
		t.Fatal(err)
	}
	return &Service{Store: st, KEK: make([]byte, 32), Issuer: "Test", Throttle: throttle.New(config.Defaults().Throttle),
		Audit: func(context.Context, *store.AuditEvent) {}, WebAuthn: wa, Now: time.Now}
}

// TestWrongCodesDoNotLockPasskeys: five wrong TOTP codes (typed by someone holding the
// password, at the second step) lock the member's codes for the lockout, not their passkey: a
// passkey answer is a signature nobody can guess (NIST SP 800-63B asks rate limiting of
// outputs under 64 bits only), so the member still signs in with it alone and uses it as the
// second factor. Nor do refused passkey answers lock anything: the password holder cannot
// lock the member's passkey with garbage answers either. Before, every factor shared the
// member's wrong-code counter.
func TestWrongCodesDoNotLockPasskeys(t *testing.T) {
	ctx := context.Background()
	s := passkeyService(t)
	const subject, ip = "sub-alice", "192.0.2.7"
	key := addSoftKey(t, s, subject)
	// The member's authenticator app, enrolled.
	enr, err := s.BeginTOTP(ctx, subject, "alice", "browser-1")
	if err != nil {
		t.Fatal(err)
	}
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(enr.Secret, at, totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := s.ConfirmTOTP(ctx, subject, nil, nil, code(time.Now()), ip, "browser-1", ""); err != nil {
		t.Fatal(err)
	}

	// A passkey works before anything (the soft authenticator is right).
	cer, err := s.BeginDiscoverable()
	if err != nil {
		t.Fatal(err)
	}
	if sub, _, err := s.FinishDiscoverable(ctx, cer.Session, key.assert(t, cer.Session), ip); err != nil || sub != subject {
		t.Fatalf("passkey sign-in before: %q %v", sub, err)
	}

	// Five wrong codes from another address: the codes are locked...
	const attacker = "198.51.100.9"
	for i := range 5 {
		if err := s.VerifyTOTP(ctx, subject, "000000", attacker); !errors.Is(err, ErrWrongCode) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	var te *ThrottledError
	if err := s.VerifyTOTP(ctx, subject, code(time.Now().Add(totpPeriod*time.Second)), attacker); !errors.As(err, &te) {
		t.Fatalf("sixth code: %v, want the member's codes locked", err)
	}
	// ...and five refused passkey answers at the second step (garbage, a wrong ceremony).
	for i := range 5 {
		c, err := s.BeginLogin(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishLogin(ctx, subject, c.Session, []byte(`{"id":"x"}`), attacker); !errors.Is(err, ErrPasskey) {
			t.Fatalf("garbage passkey answer %d: %v", i+1, err)
		}
	}

	// The member's passkey alone still signs in, and still serves as the second factor.
	cer, err = s.BeginDiscoverable()
	if err != nil {
		t.Fatal(err)
	}
	if sub, _, err := s.FinishDiscoverable(ctx, cer.Session, key.assert(t, cer.Session), ip); err != nil || sub != subject {
		t.Fatalf("passkey sign-in after five wrong codes: %q %v, want the member signed in", sub, err)
	}
	cer, err = s.BeginLogin(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishLogin(ctx, subject, cer.Session, key.assert(t, cer.Session), ip); err != nil {
		t.Fatalf("passkey as the second factor after five wrong codes: %v", err)
	}
	// The codes stay locked: the passkey did not clear the wrong-code counter.
	if err := s.VerifyTOTP(ctx, subject, code(time.Now().Add(totpPeriod*time.Second)), ip); !errors.As(err, &te) {
		t.Fatalf("a code after the passkey: %v, want still locked", err)
	}
}
