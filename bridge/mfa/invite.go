package mfa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Enrolment invitations: an administrator-issued one-time code that lets a member set up a
// first second factor where the password alone may not (review s12 W9; mfa.first_enrolment:
// invitation, InviteNeeded; the enrolment uses it with the factor, ConfirmTOTP and
// FinishRegistration, and CheckInvite reads one without using it before a passkey is made). The code is shown
// once, to the administrator, who hands it to the member; the store keeps its hash
// (store.EnrolmentInvite). It is typed by a person, so it carries 100 bits rather than the 256
// of the bridge's other tokens (as recovery codes carry 60), short-lived and throttled with the
// member's other second-factor codes, per member and per client IP.

// DefaultInviteLifetime is how long an invitation lives when no lifetime is given.
const DefaultInviteLifetime = 72 * time.Hour

// ErrWrongInvite: the invitation code is wrong, another member's, used already or expired (one
// answer for all of them).
var ErrWrongInvite = errors.New("mfa: wrong, used or expired invitation code")

// ErrInviteMissing: an enrolment without an invitation code would store the member's first
// second factor where one needs a code (InviteNeeded), as the store found when it was to store
// it (store.ErrFirstFactor): nothing is stored and nothing counted. The pages ask for the code.
var ErrInviteMissing = errors.New("mfa: a first second factor needs an invitation code")

// IssueInvite issues a one-time enrolment code for the member subject, valid for lifetime
// (DefaultInviteLifetime when not positive), voiding the member's earlier unused one; by names
// who issued it (the audit row's). It returns the code, to be shown once, and its expiry.
func (s *Service) IssueInvite(ctx context.Context, subject, by string, lifetime time.Duration) (string, time.Time, error) {
	if subject == "" {
		return "", time.Time{}, errors.New("mfa: issue invitation: no member")
	}
	if lifetime <= 0 {
		lifetime = DefaultInviteLifetime
	}
	code := newInviteCode()
	now := s.Now()
	inv := &store.EnrolmentInvite{Hash: inviteHash(subject, code), Subject: subject, IssuedBy: by, CreatedAt: now,
		ExpiresAt: now.Add(lifetime)}
	if err := s.Store.CreateEnrolmentInvite(ctx, inv); err != nil {
		return "", time.Time{}, fmt.Errorf("mfa: issue invitation: %w", err)
	}
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.invite_issued", Subject: subject,
		Detail: "by " + by + ", expires " + inv.ExpiresAt.UTC().Format(time.RFC3339)})
	return code, inv.ExpiresAt, nil
}

// CheckInvite reads, without using it, whether code is the member's usable invitation: the
// check a passkey registration makes before the authenticator makes the passkey (the finish
// uses the code with the passkey, FinishRegistration). A wrong, used or expired code is
// ErrWrongInvite and counts against the member's and the address's second-factor attempts as
// at the finish (a *ThrottledError once they are spent), so that checking cannot guess faster
// than enrolling; a right one takes its attempt back without clearing the count (the finish
// counts again). A refusal is audited (mfa.invite_refused); what is the check's is in detail.
func (s *Service) CheckInvite(ctx context.Context, subject, code, ip, what string) error {
	if err := s.throttle(ctx, subject, ip); err != nil {
		return err
	}
	err := s.Store.EnrolmentInviteUsable(ctx, subject, inviteHash(subject, code), s.Now())
	switch {
	case errors.Is(err, sso.ErrNotFound):
		return s.inviteRefused(ctx, subject, ip, what)
	case err != nil:
		s.release(ctx, subject, ip)
		return fmt.Errorf("mfa: check invitation: %w", err)
	}
	s.release(ctx, subject, ip)
	return nil
}

// newInviteCode makes a code of 100 random bits in the recovery codes' alphabet
// ("xxxxx-xxxxx-xxxxx-xxxxx").
func newInviteCode() string {
	raw := recoveryAlphabet.EncodeToString(identity.RandomBytes(13))[:20]
	return raw[:5] + "-" + raw[5:10] + "-" + raw[10:15] + "-" + raw[15:]
}

// inviteHash is what the store keeps of an invitation code: SHA-256 of the member and the code
// without separators or case.
func inviteHash(subject, code string) string {
	norm := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	sum := sha256.Sum256([]byte("ssobridge enrolment invitation\x00" + subject + "\x00" + norm))
	return hex.EncodeToString(sum[:])
}
