package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestWritePanicStaysWithItsCaller (review s8 Y4): a write whose own code panics in a batch
// that another caller leads fails the batch (nothing of it is committed, the queue keeps
// working), and the panic goes on in its own caller's goroutine, not the leader's: every write
// now goes through the queue, and a background job (the purge, the outbox, the shadow jobs:
// goroutines without a recover) leading the batch took another request's panic and ended the
// process; an HTTP request leading it was answered 500 for someone else's bug while the
// panicking caller was told only that its batch was aborted.
func TestWritePanicStaysWithItsCaller(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		type outcome struct {
			err      error
			panicked any
		}
		run := func(f func() error) <-chan outcome {
			ch := make(chan outcome, 1)
			go func() {
				var o outcome
				defer func() {
					o.panicked = recover()
					ch <- o
				}()
				o.err = f()
			}()
			return ch
		}
		// The leader takes the write connection before its batch: holding it keeps the leader
		// waiting until the panicking write has queued behind it.
		if err := s.wgate.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		leader := run(func() error {
			return s.CreateSession(ctx, &sso.Session{ID: "leader", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)})
		})
		waitPending(t, s, 1)
		for deadline := time.Now().Add(10 * time.Second); len(s.writes.leader) == 0; time.Sleep(100 * time.Microsecond) {
			if time.Now().After(deadline) {
				t.Fatal("the first write did not become the leader")
			}
		}
		buggy := run(func() error {
			return s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, subject, auth_time, amr, created_at, last_seen, expires_at, ended)
					VALUES ('half', 'u', 0, '', 0, 0, ?, 0)`, ts(now.Add(time.Hour))); err != nil {
					return err
				}
				panic("bug in a write")
			})
		})
		waitPending(t, s, 2)
		s.wgate.release()

		l, b := <-leader, <-buggy
		if l.panicked != nil {
			t.Errorf("the leader's caller panicked with another write's panic: %v", l.panicked)
		}
		if l.err == nil {
			t.Error("the leader's write reported done, in a batch that was not committed")
		}
		if b.panicked == nil || !strings.Contains(fmt.Sprint(b.panicked), "bug in a write") {
			t.Errorf("the panicking write's caller: panic %v, error %v; want its panic", b.panicked, b.err)
		}
		for _, id := range []string{"leader", "half"} {
			if sessionExists(t, s, id) {
				t.Errorf("session %s of the panicked batch was committed", id)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second) // a safety net: a hung queue waits forever
		defer cancel()
		if err := s.CreateSession(wctx, &sso.Session{ID: "next", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatalf("a write after the panic: %v", err)
		}
	})
}
