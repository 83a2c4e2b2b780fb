package signin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/legacy"
)

// unreadable answers a wrong password for "ursula" as bad credentials (as legacy/sqldir does
// for a member row it cannot read) while looking her up fails as unavailable, the error naming
// the typed login.
type unreadable struct{ *directory }

func (u unreadable) MemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	if login == "ursula" {
		return nil, fmt.Errorf("%w: row of %s breaks the column contract", legacy.ErrUnavailable, login)
	}
	return u.directory.MemberByLogin(ctx, login)
}

func (u unreadable) FreshMemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	return u.MemberByLogin(ctx, login)
}

// TestFailedLookupCountsAsUnknownLogin: a wrong password for a login whose look-up fails (not
// with not-found: a member row the directory cannot read) is counted as an unknown login's is,
// against the member counter of that login, so that it costs the throttle the same work as any
// other failure; the look-up's failure is logged once, without the typed login. Before, no member
// counter was touched for it and nothing was logged.
func TestFailedLookupCountsAsUnknownLogin(t *testing.T) {
	for _, login := range []string{"mallory", "ursula"} {
		t.Run(login, func(t *testing.T) {
			f := newFixture(false)
			f.c.Directory = unreadable{f.dir}
			var logs bytes.Buffer
			f.c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if _, err := f.check(login, "wrong", false); !errors.Is(err, legacy.ErrBadCredentials) {
				t.Fatalf("Check err = %v, want bad credentials", err)
			}
			ctx := context.Background()
			if known, err := f.c.Throttle.KnowsMember(ctx, login); err != nil || !known {
				t.Errorf("KnowsMember(%s) = %v, %v: the failure touched no member counter", login, known, err)
			}
			// The unknown login's counter (signin.unknownMember).
			wait, err := f.c.Throttle.MemberRetryAfter(ctx, "\x00login:"+identity.CanonicalLogin(login))
			if err != nil || wait <= 0 || wait > time.Minute {
				t.Errorf("the unknown-login counter of %s refuses for %v (%v), want the lockout", login, wait, err)
			}
			out := logs.String()
			n := strings.Count(out, "could not be looked up")
			if want := map[string]int{"mallory": 0, "ursula": 1}[login]; n != want {
				t.Errorf("%d log lines about the look-up, want %d:\n%s", n, want, out)
			}
			if strings.Contains(out, login) {
				t.Errorf("the log has the typed login:\n%s", out)
			}
		})
	}
}
