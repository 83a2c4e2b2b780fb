package postgres_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// replicas opens n stores on one fresh database, as n bridge replicas would: each has its own
// connection pool, so concurrent calls on different replicas meet only in PostgreSQL.
func replicas(t *testing.T, n int) []*postgres.Store {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	out := make([]*postgres.Store, n)
	for i := range out {
		s, err := postgres.Open(t.Context(), dsn, postgres.WithMaxConns(2))
		if err != nil {
			t.Fatalf("Open replica %d: %v", i, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		out[i] = s
	}
	return out
}

const nReplicas = 8

// TestReplicasRedeemOneCode: one authorization code exchanged at the same moment on every
// replica issues tokens once; every other exchange is told the code was used.
func TestReplicasRedeemOneCode(t *testing.T) {
	rs := replicas(t, nReplicas)
	h := &ssotest.H{T: t, S: rs[0], Ctx: t.Context(), Now: ssotest.Now()}
	r, codeHash := h.CreateCode()
	families := make([]*sso.RefreshToken, len(rs))
	for i := range families {
		families[i] = h.NewRefreshToken()
		families[i].Subject, families[i].ClientID = r.Subject, r.ClientID
	}
	errs := ssotest.Parallel(len(rs), func(i int) error {
		return rs[i].IssueTokens(t.Context(), sso.Issue{ConsumeCodeHash: codeHash, Family: families[i]})
	})
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("replicas %d and %d both redeemed the code", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, sso.ErrCodeConsumed):
			t.Fatalf("replica %d: %v, want ErrCodeConsumed", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no replica redeemed the code")
	}
	for i, f := range families {
		_, err := rs[(i+1)%len(rs)].Family(t.Context(), f.FamilyID)
		if i == won {
			ssotest.NoErr(t, err, "the winner's family")
		} else {
			ssotest.IsErr(t, err, sso.ErrNotFound, "family of losing replica %d", i)
		}
	}
}

// TestReplicasRotateOneRefreshToken: one refresh token presented at the same moment on every
// replica (strict rotation) rotates once; the others are reuse, and the family ends revoked on
// every replica.
func TestReplicasRotateOneRefreshToken(t *testing.T) {
	rs := replicas(t, nReplicas)
	h := &ssotest.H{T: t, S: rs[0], Ctx: t.Context(), Now: ssotest.Now()}
	f := h.Grant("alice", "client-1")
	rots := make([]*sso.Rotation, len(rs))
	for i := range rots {
		rots[i] = ssotest.Rotation(f, h.Now.Add(time.Second), 0)
	}
	errs := ssotest.Parallel(len(rs), func(i int) error {
		return rs[i].IssueTokens(t.Context(), sso.Issue{Rotate: rots[i]})
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, sso.ErrRefreshReused), errors.Is(err, sso.ErrTokenRevoked):
		default:
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d replicas rotated the same refresh token, want 1", won)
	}
	for i, r := range rs {
		got, err := r.Family(t.Context(), f.FamilyID)
		ssotest.NoErr(t, err, "Family on replica %d", i)
		if !got.Revoked || got.Generation != 1 {
			t.Fatalf("replica %d sees generation %d revoked %v, want generation 1 revoked", i, got.Generation, got.Revoked)
		}
	}
}

// TestReplicasRetryWithinGrace: the same rotation retried on every replica at once (a client
// retrying after a lost response, through a load balancer) succeeds everywhere and rotates once.
func TestReplicasRetryWithinGrace(t *testing.T) {
	rs := replicas(t, nReplicas)
	h := &ssotest.H{T: t, S: rs[0], Ctx: t.Context(), Now: ssotest.Now()}
	f := h.Grant("alice", "client-1")
	r := ssotest.Rotation(f, h.Now.Add(time.Second), time.Minute)
	for i, err := range ssotest.Parallel(len(rs), func(i int) error {
		return rs[i].IssueTokens(t.Context(), sso.Issue{Rotate: r})
	}) {
		ssotest.NoErr(t, err, "retry on replica %d", i)
	}
	ssotest.Equal(t, h.MustFamily(f.FamilyID), ssotest.Applied(f, r), "family after retries on every replica")
}

// TestReplicasCompleteOneSignIn: one sign-in request completed at the same moment on every
// replica (with different members) completes once, with the winner's member.
func TestReplicasCompleteOneSignIn(t *testing.T) {
	rs := replicas(t, nReplicas)
	h := &ssotest.H{T: t, S: rs[0], Ctx: t.Context(), Now: ssotest.Now()}
	req := h.NewAuthRequest()
	ssotest.NoErr(t, rs[0].CreateAuthRequest(t.Context(), req), "CreateAuthRequest")
	browser := ssotest.RandomID()
	ssotest.NoErr(t, rs[1].BindAuthRequest(t.Context(), req.ID, browser), "BindAuthRequest")
	errs := ssotest.Parallel(len(rs), func(i int) error {
		return rs[i].CompleteAuthRequest(t.Context(), req.ID, sso.Completion{
			Subject: fmt.Sprintf("member-%d", i), AuthTime: h.Now, SessionID: ssotest.RandomID(), Browser: browser,
		})
	})
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("replicas %d and %d both completed the request", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, sso.ErrAuthRequestUsed):
			t.Fatalf("replica %d: %v, want ErrAuthRequestUsed", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no replica completed the request")
	}
	got, err := rs[len(rs)-1].AuthRequest(t.Context(), req.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if want := fmt.Sprintf("member-%d", won); got.Subject != want || !got.Done {
		t.Fatalf("request completed for %q (done %v), want %q", got.Subject, got.Done, want)
	}
}

// TestReplicasClaimOutbox: replicas claiming the outbox at once never get the same event, never
// two events of one key at once, and together claim every due key head; an event whose claimer
// died (its lease never released) is claimed again by another replica once the lease runs out.
func TestReplicasClaimOutbox(t *testing.T) {
	rs := replicas(t, nReplicas)
	ctx := t.Context()
	now := ssotest.Now()
	const keys, perKey = 20, 3
	for k := range keys {
		for range perKey {
			ssotest.NoErr(t, rs[0].Enqueue(ctx, &store.OutboxEvent{
				ID: ssotest.RandomID(), Key: fmt.Sprintf("key-%d", k), Type: "user.updated", Channel: "webhook",
				NextAttempt: now,
			}), "Enqueue")
		}
	}
	claimed := make([][]*store.OutboxEvent, len(rs))
	errs := ssotest.Parallel(len(rs), func(i int) error {
		var err error
		claimed[i], err = rs[i].ClaimEvents(ctx, store.Claim{Now: now, Lease: time.Minute, Limit: 5})
		return err
	})
	seen, keysSeen := map[string]int{}, map[string]int{}
	for i, err := range errs {
		ssotest.NoErr(t, err, "ClaimEvents on replica %d", i)
		for _, e := range claimed[i] {
			if j, ok := seen[e.ID]; ok {
				t.Fatalf("event %s claimed by replicas %d and %d", e.ID, j, i)
			}
			if j, ok := keysSeen[e.Key]; ok {
				t.Fatalf("two events of %s claimed at once (replicas %d and %d)", e.Key, j, i)
			}
			seen[e.ID], keysSeen[e.Key] = i, i
		}
	}
	if len(seen) != keys {
		t.Fatalf("replicas claimed %d events together, want every key's head (%d)", len(seen), keys)
	}
	// Nothing more is claimable while the leases hold.
	for i, r := range rs {
		l, err := r.ClaimEvents(ctx, store.Claim{Now: now.Add(30 * time.Second), Lease: time.Minute, Limit: 100})
		ssotest.NoErr(t, err, "ClaimEvents while leased")
		if len(l) != 0 {
			t.Fatalf("replica %d claimed %d leased events", i, len(l))
		}
	}
	// Every claimer "crashed": after the lease, another replica takes the same heads again,
	// with their attempt counted twice.
	again, err := rs[3].ClaimEvents(ctx, store.Claim{Now: now.Add(2 * time.Minute), Lease: time.Minute, Limit: 100})
	ssotest.NoErr(t, err, "ClaimEvents after the leases ran out")
	if len(again) != keys {
		t.Fatalf("re-claimed %d events after the leases ran out, want %d", len(again), keys)
	}
	for _, e := range again {
		if _, ok := seen[e.ID]; !ok || e.Attempts != 2 {
			t.Fatalf("re-claimed %s (attempts %d): want a head claimed before, attempt 2", e.ID, e.Attempts)
		}
	}
}

// TestReplicasEnsureSecret: replicas starting together agree on one installation secret.
func TestReplicasEnsureSecret(t *testing.T) {
	rs := replicas(t, nReplicas)
	got := make([][]byte, len(rs))
	for i, err := range ssotest.Parallel(len(rs), func(i int) error {
		var err error
		got[i], err = rs[i].EnsureSecret(t.Context(), "subject_key", []byte(fmt.Sprintf("value-of-replica-%d", i)))
		return err
	}) {
		ssotest.NoErr(t, err, "EnsureSecret on replica %d", i)
	}
	for i := range got {
		if string(got[i]) != string(got[0]) {
			t.Fatalf("replica %d got secret %q, replica 0 %q", i, got[i], got[0])
		}
	}
}

// TestReplicasThrottleCounter: hits on one throttle counter spread over every replica's pool
// at the same moment count exactly up to the limit in total.
func TestReplicasThrottleCounter(t *testing.T) {
	rs := replicas(t, nReplicas)
	stores := make([]store.CounterStore, len(rs))
	for i, r := range rs {
		stores[i] = r
	}
	storetest.ConcurrentHits(t, stores, ssotest.Now())
}
