package mfa

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestInvite (brief M 2): an enrolment invitation is redeemed once, by its member, typed in any
// case and spacing, before it expires; a newer one voids it; a wrong, used, expired or other
// member's code is ErrWrongInvite, counted against the member's second-factor attempts until
// they are throttled; issue, use and refusal are audited.
func TestInvite(t *testing.T) {
	ctx := context.Background()
	s := passkeyService(t)
	var mu sync.Mutex
	var events []string
	s.Audit = func(_ context.Context, e *store.AuditEvent) {
		mu.Lock()
		events = append(events, e.Event)
		mu.Unlock()
	}
	now := time.Now()
	s.Now = func() time.Time { return now }
	const alice, bob, ip = "sub-alice", "sub-bob", "192.0.2.9"

	code, exp, err := s.IssueInvite(ctx, alice, "admin", 0)
	if err != nil || !exp.Equal(now.Add(DefaultInviteLifetime)) || len(strings.ReplaceAll(code, "-", "")) != 20 {
		t.Fatalf("IssueInvite = %q, %v, %v", code, exp, err)
	}
	if err := s.CheckInvite(ctx, bob, code, ip, "test"); !errors.Is(err, ErrWrongInvite) {
		t.Fatalf("another member's code: %v", err)
	}
	if err := s.CheckInvite(ctx, alice, " "+strings.ToUpper(strings.ReplaceAll(code, "-", " "))+" ", ip, "test"); err != nil {
		t.Fatalf("the code, typed loosely: %v", err)
	}
	if err := s.CheckInvite(ctx, alice, code, ip, "test"); err != nil {
		t.Fatalf("checked again (a check uses nothing): %v", err)
	}

	// A newer invitation voids the older; an expired one is refused.
	older, _, _ := s.IssueInvite(ctx, alice, "admin", time.Hour)
	newer, _, _ := s.IssueInvite(ctx, alice, "admin", time.Hour)
	if err := s.CheckInvite(ctx, alice, older, ip, "test"); !errors.Is(err, ErrWrongInvite) {
		t.Fatalf("the voided invitation: %v", err)
	}
	now = now.Add(time.Hour)
	if err := s.CheckInvite(ctx, alice, newer, ip, "test"); !errors.Is(err, ErrWrongInvite) {
		t.Fatalf("at its expiry: %v", err)
	}

	// Guesses are throttled per member.
	fresh, _, _ := s.IssueInvite(ctx, "sub-carol", "admin", time.Hour)
	var te *ThrottledError
	for i := range 20 {
		err := s.CheckInvite(ctx, "sub-carol", "aaaaa-aaaaa-aaaaa-aaaaa", ip, "test")
		if errors.As(err, &te) {
			break
		}
		if !errors.Is(err, ErrWrongInvite) || i == 19 {
			t.Fatalf("guess %d: %v, want ErrWrongInvite until throttled", i, err)
		}
	}
	if err := s.CheckInvite(ctx, "sub-carol", fresh, ip, "test"); !errors.As(err, &te) {
		t.Fatalf("the right code while throttled: %v", err)
	}

	want := map[string]bool{"mfa.invite_issued": false, "mfa.invite_refused": false}
	for _, e := range events {
		if _, ok := want[e]; ok {
			want[e] = true
		}
	}
	for e, seen := range want {
		if !seen {
			t.Errorf("no %s audit row (%v)", e, events)
		}
	}
}

// TestConfirmTOTPInvited: an authenticator app confirmed with an invitation uses it with the
// factor: a wrong invitation (with the right authenticator code) confirms nothing and counts
// against the member's second-factor attempts until they are throttled, when even the right
// invitation is refused; a wrong authenticator code leaves the invitation unused; the code is
// taken in any case and spacing, and audited with the enrolment.
func TestConfirmTOTPInvited(t *testing.T) {
	ctx := context.Background()
	s := passkeyService(t)
	var events []string
	s.Audit = func(_ context.Context, e *store.AuditEvent) { events = append(events, e.Event+":"+e.Detail) }
	const ip = "192.0.2.9"
	enrol := func(subject string) func(at time.Time) string {
		enr, err := s.BeginTOTP(ctx, subject, subject, "browser-1")
		if err != nil {
			t.Fatal(err)
		}
		return func(at time.Time) string {
			c, err := totp.GenerateCodeCustom(enr.Secret, at, totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	confirmed := func(subject string) bool {
		f, err := s.Store.TOTP(ctx, subject)
		return err == nil && f.Confirmed
	}

	code := enrol("sub-alice")
	invite, _, err := s.IssueInvite(ctx, "sub-alice", "admin", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmTOTP(ctx, "sub-alice", nil, nil, "000000", ip, "browser-1", invite); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("a wrong authenticator code: %v", err)
	}
	codes, err := s.ConfirmTOTP(ctx, "sub-alice", nil, nil, code(time.Now()), ip, "browser-1", " "+strings.ToUpper(strings.ReplaceAll(invite, "-", " ")))
	if err != nil || len(codes) != RecoveryCodes || !confirmed("sub-alice") {
		t.Fatalf("the invitation, typed loosely, after a wrong authenticator code: %v", err)
	}
	if !slices.Contains(events, "mfa.invite_used:totp") || !slices.Contains(events, "mfa.enrolled:totp, with an invitation") {
		t.Fatalf("audit rows: %v", events)
	}
	// Used: the check refuses it, as a second enrolment with it would be.
	if err := s.CheckInvite(ctx, "sub-alice", invite, ip, "test"); !errors.Is(err, ErrWrongInvite) {
		t.Fatalf("the used invitation checked: %v", err)
	}

	carol := enrol("sub-carol")
	good, _, _ := s.IssueInvite(ctx, "sub-carol", "admin", 0)
	var te *ThrottledError
	for i := range 20 {
		_, err := s.ConfirmTOTP(ctx, "sub-carol", nil, nil, carol(time.Now()), ip, "browser-1", "aaaaa-aaaaa-aaaaa-aaaaa")
		if errors.As(err, &te) {
			break
		}
		if !errors.Is(err, ErrWrongInvite) || i == 19 || confirmed("sub-carol") {
			t.Fatalf("guess %d: %v, want ErrWrongInvite until throttled", i, err)
		}
	}
	if _, err := s.ConfirmTOTP(ctx, "sub-carol", nil, nil, carol(time.Now()), ip, "browser-1", good); !errors.As(err, &te) || confirmed("sub-carol") {
		t.Fatalf("the right invitation while throttled: %v", err)
	}
}
