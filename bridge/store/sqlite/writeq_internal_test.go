package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// batchWrites runs the writes concurrently while holding the leader's place until all of them
// are queued, in the order given (each is queued before the next starts), so that a leader then
// takes them in that order; it returns their errors and how many batches ran them.
func batchWrites(t *testing.T, s *Store, writes ...func() error) ([]error, int64) {
	t.Helper()
	q := s.writes
	q.leader <- struct{}{}
	before := q.batches.Load()
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		q.mu.Lock()
		n0 := len(q.pending)
		q.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w()
		}()
		waitPending(t, s, n0+1)
	}
	<-q.leader
	wg.Wait()
	return errs, q.batches.Load() - before
}

// waitPending waits until n writes are queued.
func waitPending(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.writes.mu.Lock()
		got := len(s.writes.pending)
		s.writes.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes queued", got, n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func testStores(t *testing.T, f func(t *testing.T, s *Store)) {
	for _, name := range []string{"memory", "file"} {
		t.Run(name, func(t *testing.T) {
			path := Memory
			if name == "file" {
				path = filepath.Join(t.TempDir(), "w.db")
			}
			f(t, openTest(t, path))
		})
	}
}

func pendingRequest(t *testing.T, s *Store, browser string) *sso.AuthRequest {
	t.Helper()
	now := time.Now()
	ar := &sso.AuthRequest{ID: sso.TimeOrderedToken(now), ClientID: "client-a", RedirectURI: "https://app.example/cb",
		Scopes: []string{"openid"}, ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(time.Hour), Browser: browser}
	if err := s.CreateAuthRequest(t.Context(), ar); err != nil {
		t.Fatal(err)
	}
	return ar
}

func signIn(ar *sso.AuthRequest, browser string) *store.SignIn {
	now := time.Now()
	sid := sso.TimeOrderedToken(now) + ssotest.RandomID()[:8]
	sub := "subject-" + ssotest.RandomID()[:8]
	return &store.SignIn{
		Session:   &sso.Session{ID: sid, Subject: sub, AuthTime: now, AMR: []string{"pwd"}, ExpiresAt: now.Add(time.Hour)},
		Audit:     &store.AuditEvent{Event: "login.success", Subject: sub, ClientID: ar.ClientID},
		RequestID: ar.ID, RequestClient: ar.ClientID,
		Completion: sso.Completion{Subject: sub, AuthTime: now, AMR: []string{"pwd"}, SessionID: sid, Browser: browser},
		CodeHash:   sso.HashToken(sso.RandomToken()), CodeExpires: now.Add(time.Minute),
	}
}

func sessionExists(t *testing.T, s *Store, id string) bool {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM sessions WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestWritesShareOneCommit: a sign-in's writes of several logins (create the request, complete
// the sign-in, exchange the code), a plain statement and a multi-statement write, ready
// together, are applied by one transaction, each with its outcome. Without the common queue
// every write but IssueTokens ran its own transaction.
func TestWritesShareOneCommit(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		ars := []*sso.AuthRequest{pendingRequest(t, s, "b0"), pendingRequest(t, s, "b1")}
		ins := []*store.SignIn{signIn(ars[0], "b0"), signIn(ars[1], "b1")}
		f := benchFamily(now)
		newReq := &sso.AuthRequest{ID: sso.TimeOrderedToken(now), ClientID: "client-a", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		withClients := &sso.Session{ID: "with-clients", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour), Clients: []string{"a", "b"}}
		errs, batches := batchWrites(t, s,
			func() error { return s.CreateAuthRequest(ctx, newReq) },
			func() error { return s.CompleteSignIn(ctx, ins[0]) },
			func() error { return s.CompleteSignIn(ctx, ins[1]) },
			// The code completed two writes before, in the same batch.
			func() error {
				return s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: ins[0].CodeHash, ConsumeCodeRequest: ins[0].RequestID, Family: f})
			},
			func() error { return s.CreateSession(ctx, withClients) },
			func() error { return s.Audit(ctx, &store.AuditEvent{Event: "e"}) },
		)
		for i, err := range errs {
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		}
		if batches != 1 {
			t.Fatalf("%d writes ready together ran in %d batches, want 1", len(errs), batches)
		}
		if _, err := s.AuthRequest(ctx, newReq.ID); err != nil {
			t.Error(err)
		}
		got, err := s.AuthRequestByCode(ctx, ins[0].CodeHash)
		if err != nil || !got.Done || !got.CodeConsumed {
			t.Errorf("request of the exchanged code: %+v, %v", got, err)
		}
		if _, err := s.Family(ctx, f.FamilyID); err != nil {
			t.Error(err)
		}
		if ss, err := s.Session(ctx, withClients.ID); err != nil || len(ss.Clients) != 2 {
			t.Errorf("session with clients: %+v, %v", ss, err)
		}
	})
}

// TestWritesBatchOnOneProcessor: with one processor, logins' writes made concurrently share
// transactions (the leader yields before taking the queue), counted as writes per batch.
func TestWritesBatchOnOneProcessor(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "p.db"))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n, rounds = 8, 20
	before, beforeOps := s.writes.batches.Load(), s.writes.ops.Load()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				loginWrites(t, s, time.Now(), nil)
			}
		}()
	}
	wg.Wait()
	batches, ops := s.writes.batches.Load()-before, s.writes.ops.Load()-beforeOps
	t.Logf("%d writes in %d batches (%.2f per batch)", ops, batches, float64(ops)/float64(batches))
	if ops != 3*n*rounds {
		t.Fatalf("%d writes, want %d", ops, 3*n*rounds)
	}
	if batches > ops/2 {
		t.Fatalf("%d writes of %d concurrent logins ran in %d batches, want at most %d", ops, n, batches, ops/2)
	}
}

// TestWriteBatchIsolation: a write that fails in a batch rolls back alone, also after some of
// its statements succeeded; the writes around it commit.
func TestWriteBatchIsolation(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		dup := pendingRequest(t, s, "")
		boom := errors.New("boom")
		ok1 := &sso.Session{ID: "ok1", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)}
		ok2 := &sso.Session{ID: "ok2", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)}
		errs, batches := batchWrites(t, s,
			func() error { return s.CreateSession(ctx, ok1) },
			// A statement that fails (conflict): nothing of it stays.
			func() error { return s.CreateAuthRequest(ctx, dup) },
			// A write that fails after its first statement succeeded.
			func() error {
				return s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, subject, auth_time, amr, created_at, last_seen, expires_at, ended)
						VALUES ('half', 'u', 0, '', 0, 0, ?, 0)`, ts(now.Add(time.Hour))); err != nil {
						return err
					}
					return boom
				})
			},
			// A multi-statement write whose second statement conflicts.
			func() error {
				return s.CreateSession(ctx, &sso.Session{ID: "ok1", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour), Clients: []string{"x"}})
			},
			func() error { return s.CreateSession(ctx, ok2) },
		)
		if batches != 1 {
			t.Fatalf("ran in %d batches, want 1", batches)
		}
		if errs[0] != nil || errs[4] != nil {
			t.Fatalf("the good writes: %v, %v", errs[0], errs[4])
		}
		if !errors.Is(errs[1], sso.ErrConflict) {
			t.Errorf("duplicate request: %v, want ErrConflict", errs[1])
		}
		if !errors.Is(errs[2], boom) {
			t.Errorf("failing write: %v, want boom", errs[2])
		}
		if !errors.Is(errs[3], sso.ErrConflict) {
			t.Errorf("duplicate session: %v, want ErrConflict", errs[3])
		}
		if sessionExists(t, s, "half") {
			t.Error("the failed write's first statement was committed")
		}
		if !sessionExists(t, s, "ok1") || !sessionExists(t, s, "ok2") {
			t.Error("a good write of the batch was not committed")
		}
		if ss, err := s.Session(ctx, "ok1"); err != nil || len(ss.Clients) != 0 {
			t.Errorf("ok1 got the failed write's client: %+v, %v", ss, err)
		}
	})
}

// TestWriteBatchSameRow: compare-and-set transitions of one row in one batch behave as if the
// writes ran one after another: the second sees the first's write.
func TestWriteBatchSameRow(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()

		// Two claims of one unbound request: one binds it, the other finds it bound.
		ar := pendingRequest(t, s, "")
		var claims [2]*sso.AuthRequest
		errs, batches := batchWrites(t, s,
			func() (err error) { claims[0], err = s.ClaimAuthRequest(ctx, ar.ID, "b1"); return err },
			func() (err error) { claims[1], err = s.ClaimAuthRequest(ctx, ar.ID, "b2"); return err },
		)
		if batches != 1 || errs[0] != nil || errs[1] != nil {
			t.Fatalf("claims: %v in %d batches", errs, batches)
		}
		if claims[0] == nil || claims[0].Browser != "b1" || claims[1] != nil {
			t.Fatalf("claims: %+v, %+v; want the first to bind, the second nothing", claims[0], claims[1])
		}

		// Two sign-ins completing one request: the second finds it used; its session and
		// audit row stay (as when it ran alone), its code is not attached.
		ar = pendingRequest(t, s, "b")
		in1, in2 := signIn(ar, "b"), signIn(ar, "b")
		errs, batches = batchWrites(t, s,
			func() error { return s.CompleteSignIn(ctx, in1) },
			func() error { return s.CompleteSignIn(ctx, in2) },
		)
		if batches != 1 || errs[0] != nil || !errors.Is(errs[1], sso.ErrAuthRequestUsed) {
			t.Fatalf("sign-ins: %v in %d batches; want nil, ErrAuthRequestUsed", errs, batches)
		}
		if _, err := s.AuthRequestByCode(ctx, in2.CodeHash); !errors.Is(err, sso.ErrNotFound) {
			t.Errorf("the second sign-in's code: %v, want ErrNotFound", err)
		}

		// A code exchanged twice: one grant.
		f1, f2 := benchFamily(now), benchFamily(now)
		errs, batches = batchWrites(t, s,
			func() error {
				return s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in1.CodeHash, ConsumeCodeRequest: in1.RequestID, Family: f1})
			},
			func() error {
				return s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in1.CodeHash, ConsumeCodeRequest: in1.RequestID, Family: f2})
			},
		)
		if batches != 1 || errs[0] != nil || !errors.Is(errs[1], sso.ErrCodeConsumed) {
			t.Fatalf("code exchanges: %v in %d batches; want nil, ErrCodeConsumed", errs, batches)
		}
		if _, err := s.Family(ctx, f2.FamilyID); !errors.Is(err, sso.ErrNotFound) {
			t.Errorf("the second exchange's family: %v, want ErrNotFound", err)
		}

		// Two rotations of one family from the same token, and a third from the first's
		// result: the second is a reuse (the family is revoked, and that sticks), the third
		// finds it revoked.
		f := benchFamily(now)
		f.Hash = "h0"
		if err := s.IssueTokens(ctx, sso.Issue{Family: f}); err != nil {
			t.Fatal(err)
		}
		errs, batches = batchWrites(t, s,
			func() error {
				return s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: f.FamilyID, OldHash: "h0", NewHash: "h1", Now: now}})
			},
			func() error {
				return s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: f.FamilyID, OldHash: "h0", NewHash: "h1b", Now: now}})
			},
			func() error {
				return s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: f.FamilyID, Generation: 1, OldHash: "h1", NewHash: "h2", Now: now}})
			},
		)
		if batches != 1 || errs[0] != nil || !errors.Is(errs[1], sso.ErrRefreshReused) || !errors.Is(errs[2], sso.ErrTokenRevoked) {
			t.Fatalf("rotations: %v in %d batches; want nil, ErrRefreshReused, ErrTokenRevoked", errs, batches)
		}
		if got, err := s.Family(ctx, f.FamilyID); err != nil || !got.Revoked || got.Generation != 1 {
			t.Fatalf("family after the batch: %+v, %v; want revoked at generation 1", got, err)
		}
	})
}

// TestWriteBatchPanic: a write that panics in a batch fails the whole batch (the writes before
// it are rolled back and reported failed, not done), the queue keeps working, and nothing of
// the batch is committed.
func TestWriteBatchPanic(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		recovered := make(chan any, 3)
		guard := func(f func() error) func() error {
			return func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						recovered <- r
						err = errors.New("panicked")
					}
				}()
				return f()
			}
		}
		errs, batches := batchWrites(t, s,
			guard(func() error {
				return s.CreateSession(ctx, &sso.Session{ID: "before", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)})
			}),
			guard(func() error {
				return s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, subject, auth_time, amr, created_at, last_seen, expires_at, ended)
						VALUES ('half', 'u', 0, '', 0, 0, ?, 0)`, ts(now.Add(time.Hour))); err != nil {
						return err
					}
					panic("bug")
				})
			}),
			guard(func() error {
				return s.CreateSession(ctx, &sso.Session{ID: "after", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)})
			}),
		)
		if batches != 1 {
			t.Fatalf("ran in %d batches, want 1", batches)
		}
		if len(recovered) != 1 {
			t.Fatalf("%d callers saw the panic, want 1 (the panicking write's caller)", len(recovered))
		}
		for i, err := range errs {
			if err == nil {
				t.Errorf("write %d of the panicked batch reported done", i)
			}
		}
		for _, id := range []string{"before", "half", "after"} {
			if sessionExists(t, s, id) {
				t.Errorf("session %s of the panicked batch was committed", id)
			}
		}
		// A safety net, not a timed assertion: a hung queue waits forever.
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := s.CreateSession(wctx, &sso.Session{ID: "next", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatalf("a write after the panic: %v", err)
		}
		if err := s.IssueTokens(wctx, sso.Issue{Family: benchFamily(now)}); err != nil {
			t.Fatalf("a grant after the panic: %v", err)
		}
	})
}

// TestWriteAbandonedWhileQueued: a caller whose context ends while its write waits in the queue
// gets the context's error at once, and the write is never applied.
func TestWriteAbandonedWhileQueued(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		now := time.Now()
		q := s.writes
		q.leader <- struct{}{}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			errc <- s.CreateSession(ctx, &sso.Session{ID: "gone", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)})
		}()
		waitPending(t, s, 1)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("abandoned write: %v, want context.Canceled", err)
		}
		<-q.leader
		if err := s.CreateSession(t.Context(), &sso.Session{ID: "next", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if sessionExists(t, s, "gone") {
			t.Fatal("the abandoned write was applied")
		}
	})
}

// TestWriteBatchCommitFails: when the batch's COMMIT fails (here a foreign key violation
// deferred to the commit), nothing of it is committed and its writes run again in smaller
// transactions: the write that caused it fails alone, the others commit and say so; no write
// is told it committed unless it did, and the connection goes on (the transaction the failed
// COMMIT left open is ended). Before, every write of the batch failed with the COMMIT's error.
func TestWriteBatchCommitFails(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		ar := pendingRequest(t, s, "b")
		in := signIn(ar, "b")
		before := s.WriteStats()
		errs, batches := batchWrites(t, s,
			func() error { return s.CompleteSignIn(ctx, in) },
			func() error { return s.writeTx(ctx, deferredFKWrite) },
			func() error {
				return s.CreateSession(ctx, &sso.Session{ID: "third", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)})
			},
		)
		if batches != 1 {
			t.Fatalf("ran in %d batches, want 1", batches)
		}
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("the writes next to the one whose COMMIT fails: %v, %v", errs[0], errs[2])
		}
		if errs[1] == nil || !strings.Contains(errs[1].Error(), "commit: ") {
			t.Fatalf("the write whose COMMIT fails: %v, want the COMMIT's error", errs[1])
		}
		if !sessionExists(t, s, in.Session.ID) || !sessionExists(t, s, "third") {
			t.Error("a write reported done was not committed")
		}
		if got, err := s.AuthRequest(ctx, ar.ID); err != nil || !got.Done {
			t.Errorf("request after the batch: %+v, %v; want done", got, err)
		}
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM session_clients WHERE session_id = 'no-such-session'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("the failed write's row: %d, %v", n, err)
		}
		st := s.WriteStats()
		if st.RetriedAfterCommit-before.RetriedAfterCommit < 1 || st.Failed-before.Failed < 2 {
			t.Errorf("write stats %+v, before %+v: want the failed COMMITs and the retry counted", st, before)
		}
		// The store goes on.
		if err := s.CreateSession(ctx, &sso.Session{ID: "next", Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatalf("a write after the failed COMMIT: %v", err)
		}
	})
}

// TestWriteBatchOrderAndBound: writes are applied in arrival order, at most maxWriteBatch per
// transaction.
func TestWriteBatchOrderAndBound(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		const n = maxWriteBatch + 5
		var order []int
		writes := make([]func() error, n)
		for i := range writes {
			writes[i] = func() error {
				return s.writeTx(ctx, func(context.Context, *sql.Tx) error {
					order = append(order, i) // writes run one at a time, on the leader
					return nil
				})
			}
		}
		before := s.writes.ops.Load()
		errs, batches := batchWrites(t, s, writes...)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		if batches != 2 || s.writes.ops.Load()-before != n {
			t.Fatalf("%d writes ran in %d batches, want 2", n, batches)
		}
		for i, v := range order {
			if v != i {
				t.Fatalf("applied in order %v, want arrival order", order)
			}
		}
	})
}

// TestBatchInvisibleToReads: a read on the write connection while a batch runs (readStmt's
// tryAcquire) cannot happen; a read during the batch sees only what was committed.
func TestBatchInvisibleToReads(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "r.db"))
	ctx := t.Context()
	now := time.Now()
	ar := &sso.AuthRequest{ID: sso.TimeOrderedToken(now), ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	var seen error
	errs, _ := batchWrites(t, s,
		func() error { return s.CreateAuthRequest(ctx, ar) },
		func() error {
			return s.writeTx(ctx, func(context.Context, *sql.Tx) error {
				rctx, cancel := context.WithTimeout(ctx, 20*time.Second) // a safety net
				defer cancel()
				_, seen = s.AuthRequest(rctx, ar.ID)
				return nil
			})
		},
	)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if !errors.Is(seen, sso.ErrNotFound) {
		t.Fatalf("a read during the batch: %v, want ErrNotFound (the request is not committed yet)", seen)
	}
	if _, err := s.AuthRequest(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
}

// TestLeaderGathersLateWrites: with one processor, a write that reaches the queue a yield
// after the leader's first one (a grant whose goroutine yields once more on its way, as the
// token endpoint's do between the steps of a request) still joins the leader's batch: the leader
// yields again while its yields bring writes in (gather). With a single yield the late write ran
// in a second transaction.
func TestLeaderGathersLateWrites(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "g.db"))
	ctx := t.Context()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for range 20 {
		before, beforeOps := s.writes.batches.Load(), s.writes.ops.Load()
		touch := func() error { return s.RevokeAccessToken(ctx, ssotest.RandomID(), time.Now().Add(time.Hour)) }
		errs := make(chan error, 4)
		started := make(chan struct{})
		go func() {
			<-started
			errs <- touch() // the leader: its yield lets the others run
		}()
		go func() {
			<-started
			errs <- touch() // ready at the leader's first yield
		}()
		go func() {
			<-started
			runtime.Gosched()
			errs <- touch() // reaches the queue a yield later
		}()
		go func() {
			<-started
			runtime.Gosched()
			runtime.Gosched()
			errs <- touch() // and two yields later
		}()
		close(started)
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		batches, ops := s.writes.batches.Load()-before, s.writes.ops.Load()-beforeOps
		if ops != 4 {
			t.Fatalf("%d writes, want 4", ops)
		}
		if batches != 1 {
			t.Fatalf("4 writes ready within three yields ran in %d transactions, want 1", batches)
		}
	}
}
