package handoff

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// guardStore is the replay guard as the stores keep it: a hash is refused while its row has
// not expired, and taken again once it has.
type guardStore struct {
	now  func() time.Time
	rows map[string]time.Time
}

func (s *guardStore) UseHandoffToken(_ context.Context, hash string, expires time.Time) error {
	if exp, ok := s.rows[hash]; ok && exp.After(s.now()) {
		return sso.ErrConflict
	}
	s.rows[hash] = expires
	return nil
}

func (s *guardStore) ShortenHandoffToken(_ context.Context, hash string, until time.Time) error {
	if exp, ok := s.rows[hash]; ok && exp.After(until) {
		s.rows[hash] = until
	}
	return nil
}

// lenientAMS takes the same refresh token as often as it is sent, for as long as its
// "Refresh token lifetime (minutes)" says (iMIS does not document that its SSO refresh tokens
// are single-use, nor bounds that lifetime).
type lenientAMS struct{}

func (lenientAMS) ExchangeHandoff(context.Context, string) (string, error) { return "alice", nil }
func (lenientAMS) Website() legacy.Website                                 { return legacy.Website{} }

type oneMember struct{}

func (oneMember) MemberByLogin(context.Context, string) (*legacy.Member, error) {
	return &legacy.Member{Key: "K", Login: "alice", Standing: legacy.Standing{Approved: true}}, nil
}
func (oneMember) MemberByKey(context.Context, string) (*legacy.Member, error) {
	return nil, legacy.ErrNotFound
}
func (oneMember) MemberByID(context.Context, string) (*legacy.Member, error) {
	return nil, legacy.ErrNotFound
}

// TestRedeemedTokenRefusedLongAfter: an AMS token the bridge redeemed is refused when it comes
// back days later (a browser's "resubmit the form" on a shared computer, a copy from a log),
// not only within a day: an AMS refresh token may live longer than that and the AMS may take it
// again. Before, the guard lasted 24 hours and the second POST signed the member in again.
func TestRedeemedTokenRefusedLongAfter(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &guardStore{now: clock, rows: map[string]time.Time{}}
	r := &Redeemer{Store: st, Exchanger: lenientAMS{}, Directory: oneMember{}, Access: access.New(nil, nil, nil),
		Logger: slog.New(slog.DiscardHandler), Now: clock}
	ctx := context.Background()
	if _, err := r.Redeem(ctx, "2101be8000394ac2b54733cb85faf389"); err != nil {
		t.Fatalf("first redemption: %v", err)
	}
	for _, later := range []time.Duration{time.Minute, 25 * time.Hour, 7 * 24 * time.Hour, 29 * 24 * time.Hour} {
		now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC).Add(later)
		if _, err := r.Redeem(ctx, "2101be8000394ac2b54733cb85faf389"); !errors.Is(err, errHandoffReplay) {
			t.Errorf("the same token %v later: err = %v, want it refused as already used", later, err)
		}
	}
}
