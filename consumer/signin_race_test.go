package consumer_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/consumer"
)

// TestSignInRacesAPush: the bridge pushes a member (webhook or SCIM) while the app's callback
// signs the same member in, as at every first sign-in. Whatever the order, the sign-in keeps
// what only the push carries (the membership object) and never undoes a deactivation the push
// made. Before, the sign-in read the stored user, the push wrote, and the sign-in wrote what it
// had read: the membership was gone although the push was delivered (TestDemoConsumer/webhook
// waited for it in vain), or a deactivated member was active again, or the sign-in failed with
// SQLite's "database is locked" (its read snapshot was older than the push's write).
func TestSignInRacesAPush(t *testing.T) {
	o := newOP(t)
	// As the demo consumer opens it: WAL, a busy timeout, several connections.
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db")+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := consumer.New(context.Background(), consumer.Config{Issuer: o.srv.URL, ClientID: "app", DB: db,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	membership := json.RawMessage(`{"status":"A","paid_through":"2027-01-01"}`)
	// push retries as the bridge's outbox does (a push answered with an error is sent again).
	push := func(u consumer.User) error {
		var err error
		for range 50 {
			if err = c.UpsertUser(ctx, u); err == nil {
				return nil
			}
			time.Sleep(time.Millisecond)
		}
		return err
	}
	const rounds = 150
	for _, active := range []bool{true, false} {
		lost, failed := 0, 0
		var lastErr error
		for i := range rounds {
			sub := fmt.Sprintf("sub-%v-%d", active, i)
			token := o.sign(t, "JWT", idClaimsFor(o, sub))
			var wg sync.WaitGroup
			var signInErr, pushErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _, signInErr = c.SignIn(ctx, token)
			}()
			go func() {
				defer wg.Done()
				pushErr = push(consumer.User{Subject: sub, Login: "alice", Active: active, Membership: membership,
					Roles: []string{"Member"}, UpdatedAt: time.Now(), PushedAt: time.Now()})
			}()
			wg.Wait()
			if pushErr != nil {
				t.Fatalf("round %d: push: %v", i, pushErr)
			}
			if signInErr != nil && !errors.Is(signInErr, consumer.ErrDeactivated) {
				failed++
				lastErr = signInErr
			}
			u, err := c.User(ctx, sub)
			if err != nil {
				t.Fatal(err)
			}
			if len(u.Membership) == 0 || u.Active != active {
				lost++
			}
		}
		if failed > 0 {
			t.Errorf("push of active=%v: %d of %d sign-ins failed because of the push (last: %v)", active, failed, rounds, lastErr)
		}
		if lost > 0 {
			t.Errorf("push of active=%v: %d of %d races lost what the push wrote (membership or deactivation)", active, lost, rounds)
		}
	}
}
