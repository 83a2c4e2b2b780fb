package legacy

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestStandingCheck(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ok := Standing{Approved: true}
	cases := []struct {
		name   string
		s      Standing
		maxAge time.Duration
		want   error
	}{
		{"active", ok, 0, nil},
		{"deleted wins over everything", Standing{Deleted: true, Disabled: true, LockedOut: true}, 0, ErrNotMember},
		{"disabled", Standing{Approved: true, Disabled: true}, 0, ErrDisabled},
		{"not yet effective", Standing{Approved: true, EffectiveDate: now.Add(time.Hour)}, 0, ErrAccountExpired},
		{"effective now", Standing{Approved: true, EffectiveDate: now}, 0, nil},
		{"expired exactly now", Standing{Approved: true, ExpirationDate: now}, 0, ErrAccountExpired},
		{"expires later", Standing{Approved: true, ExpirationDate: now.Add(time.Minute)}, 0, nil},
		{"not approved", Standing{}, 0, ErrNotApproved},
		{"locked out", Standing{Approved: true, LockedOut: true}, 0, ErrLockedOut},
		{"password too old", Standing{Approved: true, PasswordChangedAt: now.AddDate(0, 0, -91)}, 90 * 24 * time.Hour, ErrPasswordExpired},
		{"password age unknown", Standing{Approved: true}, 90 * 24 * time.Hour, nil},
		{"passwords never expire", Standing{Approved: true, PasswordChangedAt: now.AddDate(-5, 0, 0)}, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Check(now, tc.maxAge); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReasonAndUnavailable(t *testing.T) {
	u := Unavailable("authenticate", errors.New("dial tcp: refused"))
	if !errors.Is(u, ErrUnavailable) || Reason(u) != "ams_unavailable" {
		t.Fatalf("unavailable: %v %s", u, Reason(u))
	}
	for err, want := range map[error]string{
		nil: "ok", ErrBadCredentials: "bad_credentials", fmt.Errorf("x: %w", ErrLockedOut): "locked_out",
		ErrUnsupportedHash: "unsupported_hash", errors.New("other"): "error",
	} {
		if got := Reason(err); got != want {
			t.Fatalf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestIsCurrent(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		paid time.Time
		want bool
	}{
		{time.Time{}, false},
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), true}, // paid through today
		{time.Date(2026, 5, 31, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		if got := (&Member{PaidThrough: tc.paid}).IsCurrent(now); got != tc.want {
			t.Fatalf("paid through %v: %v", tc.paid, got)
		}
	}
}
