package sqldir

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ssobridge/ssobridge/legacy"
)

// amsRead is a value the directory reads from the AMS and keeps for AppClockRefresh: the
// application clock's offset (QueryAppClock) and the password expiry settings
// (QueryPasswordExpiry), both under this one policy.
//
// When the value is due (never read, read AppClockRefresh ago or more, or read in the future
// of the directory's clock), one read is made for every caller that needs it, without holding
// a lock, detached from their cancellation (the query timeout bounds it: the callers that share
// it do not see one caller's cancellation as the AMS's answer), and each caller waits for it no
// longer than its own context (legacy.ErrUnavailable naming the query). So with an AMS that
// does not answer, callers do not queue behind one another (the k-th does not wait k query
// timeouts), and the AMS gets one query however many callers need the value. A read that
// succeeds is kept as of its start; one that fails is not kept: the callers that shared it get
// its error (fail closed) and the next caller reads again.
type amsRead[V any] struct {
	query string // the query read, named by a caller that gives up waiting
	mu    sync.Mutex
	at    time.Time // when v was read (the read's start); zero: never
	v     V
	read  singleflight.Group
}

// get returns the value, reading it with read (now: the directory's clock) when it is due.
func (r *amsRead[V]) get(ctx context.Context, now func() time.Time, read func(context.Context) (V, error)) (V, error) {
	if v, ok := r.kept(now()); ok {
		return v, nil
	}
	ch := r.read.DoChan("", func() (any, error) {
		at := now()
		// A read that ended after this caller looked has made the value known.
		if v, ok := r.kept(at); ok {
			return v, nil
		}
		v, err := read(context.WithoutCancel(ctx))
		if err == nil {
			r.mu.Lock()
			r.at, r.v = at, v
			r.mu.Unlock()
		}
		return v, err
	})
	select {
	case res := <-ch:
		v, _ := res.Val.(V)
		return v, res.Err
	case <-ctx.Done():
		var zero V
		return zero, legacy.Unavailable(r.query, ctx.Err())
	}
}

// kept is the value read less than AppClockRefresh before now (ok), else not (due).
func (r *amsRead[V]) kept(now time.Time) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if age := now.Sub(r.at); r.at.IsZero() || age < 0 || age >= AppClockRefresh {
		var zero V
		return zero, false
	}
	return r.v, true
}
