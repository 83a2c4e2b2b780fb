package mfa

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

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
	if err := s.RedeemInvite(ctx, bob, code, ip); !errors.Is(err, ErrWrongInvite) {
		t.Fatalf("another member's code: %v", err)
	}
	if err := s.RedeemInvite(ctx, alice, " "+strings.ToUpper(strings.ReplaceAll(code, "-", " "))+" ", ip); err != nil {
		t.Fatalf("the code, typed loosely: %v", err)
	}
	if err := s.RedeemInvite(ctx, alice, code, ip); !errors.Is(err, ErrWrongInvite) {
		t.Fatalf("replayed: %v", err)
	}

	// A newer invitation voids the older; an expired one is refused.
	older, _, _ := s.IssueInvite(ctx, alice, "admin", time.Hour)
	newer, _, _ := s.IssueInvite(ctx, alice, "admin", time.Hour)
	if err := s.RedeemInvite(ctx, alice, older, ip); !errors.Is(err, ErrWrongInvite) {
		t.Fatalf("the voided invitation: %v", err)
	}
	now = now.Add(time.Hour)
	if err := s.RedeemInvite(ctx, alice, newer, ip); !errors.Is(err, ErrWrongInvite) {
		t.Fatalf("at its expiry: %v", err)
	}

	// Guesses are throttled per member.
	fresh, _, _ := s.IssueInvite(ctx, "sub-carol", "admin", time.Hour)
	var te *ThrottledError
	for i := range 20 {
		err := s.RedeemInvite(ctx, "sub-carol", "aaaaa-aaaaa-aaaaa-aaaaa", ip)
		if errors.As(err, &te) {
			break
		}
		if !errors.Is(err, ErrWrongInvite) || i == 19 {
			t.Fatalf("guess %d: %v, want ErrWrongInvite until throttled", i, err)
		}
	}
	if err := s.RedeemInvite(ctx, "sub-carol", fresh, ip); !errors.As(err, &te) {
		t.Fatalf("the right code while throttled: %v", err)
	}

	want := map[string]bool{"mfa.invite_issued": false, "mfa.invite_used": false, "mfa.invite_refused": false}
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
