package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// registration answers a registration ceremony (its server-side session) as a browser's
// authenticator with user verification would: a new passkey (bridgetest.Passkey.Register).
func registration(t *testing.T, session []byte) []byte {
	t.Helper()
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		t.Fatal(err)
	}
	return bridgetest.NewPasskey(t, sd.UserID).Register(t, sd.RelyingPartyID, testOrigin, sd.Challenge)
}

// TestEnrolWithoutInviteNeedsAnotherFactor: with mfa.first_enrolment: invitation, an
// authenticator app or passkey enrolled without an invitation code is stored only when the
// store finds another factor of the member's as it stores it (review s18 R3-4). A member with
// none (a caller that did not ask InviteNeeded), or whose only other factor was removed after
// the request read it (InviteNeeded said no code was needed), gets ErrInviteMissing, nothing
// stored and nothing counted; beside a factor, after the AMS website's hand-off of a member the
// AMS asks one of, or with first enrolment open, it is stored. Before, the service stored
// whatever came without a code.
func TestEnrolWithoutInviteNeedsAnotherFactor(t *testing.T) {
	plain := &legacy.Member{Login: "alice"}
	asked := &legacy.Member{Login: "bob", SecondFactor: true}
	pwd, handOff := []string{AMRPassword}, []string{AMRHandOff}
	for _, tc := range []struct {
		name       string
		invitation bool // mfa.first_enrolment: invitation
		m          *legacy.Member
		amr        []string
		// before sets the member's factors up; it returns what the request read.
		before func(t *testing.T, s *Service, subject string) Factors
		want   error
	}{
		{"first factor", true, plain, pwd, nil, ErrInviteMissing},
		{"first factor, no member", true, nil, pwd, nil, ErrInviteMissing},
		{"first factor, asked by the AMS, password", true, asked, pwd, nil, ErrInviteMissing},
		{"beside a passkey", true, plain, pwd, func(t *testing.T, s *Service, subject string) Factors {
			addSoftKey(t, s, subject)
			return Factors{}
		}, nil},
		{"the only passkey removed after it was read", true, plain, pwd, func(t *testing.T, s *Service, subject string) Factors {
			k := addSoftKey(t, s, subject)
			f, err := s.Factors(context.Background(), subject)
			if err != nil || !f.Any() {
				t.Fatalf("Factors: %+v, %v", f, err)
			}
			if err := s.Store.DeleteWebAuthnCredential(context.Background(), subject, k.ID()); err != nil {
				t.Fatal(err)
			}
			return f
		}, ErrInviteMissing},
		{"first factor after the AMS hand-off", true, asked, handOff, nil, nil},
		{"first factor, enrolment open", false, plain, pwd, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			const subject, ip = "sub-alice", "192.0.2.7"
			for _, method := range []string{"totp", "passkey"} {
				t.Run(method, func(t *testing.T) {
					s := passkeyService(t)
					s.InvitationFirst = tc.invitation
					var refusals []string // the mfa.enrol_refused rows' details
					s.Audit = func(_ context.Context, ev *store.AuditEvent) {
						if ev.Event == "mfa.enrol_refused" && ev.Subject == subject && ev.IP == ip {
							refusals = append(refusals, ev.Detail)
						}
					}
					attempts := 1
					var f Factors
					if tc.before != nil {
						f = tc.before(t, s, subject)
					}
					if tc.want != nil && s.InviteNeeded(f, tc.m, tc.amr) && tc.before != nil {
						t.Fatalf("InviteNeeded says a code is needed: the case does not test the store's check")
					}
					before, err := s.Factors(ctx, subject)
					if err != nil {
						t.Fatal(err)
					}
					switch method {
					case "totp":
						enr, err := s.BeginTOTP(ctx, subject, "alice", "browser-1")
						if err != nil {
							t.Fatal(err)
						}
						code, err := totp.GenerateCodeCustom(enr.Secret, time.Now(), totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
						if err != nil {
							t.Fatal(err)
						}
						if tc.want != nil {
							attempts = 8 // more than the wrong codes allowed: a refusal is not counted as one
						}
						for range attempts {
							codes, err := s.ConfirmTOTP(ctx, subject, tc.m, tc.amr, code, ip, "browser-1", "")
							if !errors.Is(err, tc.want) || (err == nil) != (len(codes) == RecoveryCodes) {
								t.Fatalf("ConfirmTOTP without a code: %d codes, %v; want %v", len(codes), err, tc.want)
							}
						}
					case "passkey":
						cer, err := s.BeginRegistration(ctx, subject, tc.m)
						if err != nil {
							t.Fatal(err)
						}
						method, err := s.FinishRegistration(ctx, subject, tc.m, tc.amr, cer.Session, registration(t, cer.Session), "Key", ip, "")
						if !errors.Is(err, tc.want) || (err == nil) != (method == AMRHardware) {
							t.Fatalf("FinishRegistration without a code: %q, %v; want %v", method, err, tc.want)
						}
					}
					after, err := s.Factors(ctx, subject)
					if err != nil {
						t.Fatal(err)
					}
					added := after.TOTP != before.TOTP || len(after.Passkeys) != len(before.Passkeys)
					if added != (tc.want == nil) {
						t.Fatalf("factors before %+v, after %+v; want one added: %v", before, after, tc.want == nil)
					}
					// Each refusal by the store is audited, as the other refusals of an enrolment.
					if want := map[bool]int{true: attempts, false: 0}[tc.want != nil]; len(refusals) != want ||
						(want > 0 && !strings.HasPrefix(refusals[0], method+": ")) {
						t.Fatalf("mfa.enrol_refused rows %q, want %d for %s", refusals, want, method)
					}
				})
			}
		})
	}
}
