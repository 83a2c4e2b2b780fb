package signin_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
)

// roundTrips counts the calls that reach the AMS behind the member cache.
type roundTrips struct {
	*bridgetest.Directory
	n atomic.Int64
}

func (r *roundTrips) Authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	r.n.Add(1)
	return r.Directory.Authenticate(ctx, login, password)
}

func (r *roundTrips) MemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	r.n.Add(1)
	return r.Directory.MemberByLogin(ctx, login)
}

func (r *roundTrips) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	r.n.Add(1)
	return r.Directory.MemberByKey(ctx, key)
}

// TestUnknownLoginSameAMSWorkBehindTheCache (review s6 F2): the AMS connector wraps its
// directory in the member cache (legacy/cache, on by default). A wrong password makes the
// checker look the typed login up (for the member counter); a known login's member is cached
// by that look-up (or by the member's own sign-ins) and an unknown one never is, so from the
// second attempt on a wrong password for a real login cost one AMS round trip less than one for
// a login that does not exist: the response time told which logins exist.
func TestUnknownLoginSameAMSWorkBehindTheCache(t *testing.T) {
	trips := func(login string, signedInBefore bool) []int64 {
		ams := &roundTrips{Directory: bridgetest.NewDirectory()}
		f := newFixture(false)
		f.c.Directory = cache.New(ams, cache.Options{TTL: time.Hour})
		f.c.Throttle = throttle.New(config.ThrottleConfig{PerLogin: 100, PerIP: 1000, Window: time.Minute, Lockout: time.Minute})
		if signedInBefore {
			if _, err := f.c.Check(t.Context(), signin.Attempt{Login: "alice", Password: "alice-password", IP: "192.0.2.9"}); err != nil {
				t.Fatal(err)
			}
		}
		var out []int64
		for range 3 {
			before := ams.n.Load()
			if _, err := f.check(login, "wrong", false); err == nil {
				t.Fatalf("%s signed in with a wrong password", login)
			}
			out = append(out, ams.n.Load()-before)
		}
		return out
	}
	unknown := trips("mallory", false)
	for _, tc := range []struct {
		name     string
		signedIn bool
	}{{"known login", false}, {"known login of a member who signed in before", true}} {
		known := trips("alice", tc.signedIn)
		for i := range known {
			if known[i] != unknown[i] {
				t.Errorf("%s: AMS round trips per wrong password: known %v, unknown %v (attempt %d differs)", tc.name, known, unknown, i+1)
				break
			}
		}
	}
}
