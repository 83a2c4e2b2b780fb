package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/ssobridge/ssobridge/sso"
)

// rotation is a rotation of f from generation gen and hash old to new.
func rotation(f *sso.RefreshToken, gen int64, old, new string, now time.Time) sso.Issue {
	return sso.Issue{Rotate: &sso.Rotation{FamilyID: f.FamilyID, Generation: gen, OldHash: old, NewHash: new, Now: now, Grace: time.Minute}}
}

// newFamily stores a family whose current hash is hash.
func newFamily(t *testing.T, s *Store, hash string, now time.Time) *sso.RefreshToken {
	t.Helper()
	f := benchFamily(now)
	f.Hash = hash
	if err := s.IssueTokens(t.Context(), sso.Issue{Family: f}); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRawBatchRotationOutcomes: a batch of rotations, which runs on the driver connection
// (runTx: rawTxConn), gives each rotation the outcome it has running alone: done, a retry within the
// grace period done, a reuse refused with its family's revocation committed, a revoked or an
// unknown family refused; a rotation alone runs there too, in autocommit or, refused, in a
// transaction of its own. Without the driver-connection path the raw counter stays 0.
func TestRawBatchRotationOutcomes(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		ok, retried, reused, revoked := newFamily(t, s, "a0", now), newFamily(t, s, "b0", now), newFamily(t, s, "c0", now), newFamily(t, s, "d0", now)
		if err := s.IssueTokens(ctx, rotation(retried, 0, "b0", "b1", now)); err != nil {
			t.Fatal(err)
		}
		if err := s.IssueTokens(ctx, rotation(reused, 0, "c0", "c1", now)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeFamily(ctx, revoked.FamilyID); err != nil {
			t.Fatal(err)
		}
		raw0 := s.writes.raw.Load()
		unknown := benchFamily(now)
		errs, batches := batchWrites(t, s,
			func() error { return s.IssueTokens(ctx, rotation(ok, 0, "a0", "a1", now)) },
			func() error { return s.IssueTokens(ctx, rotation(retried, 0, "b0", "b1", now)) },
			func() error { return s.IssueTokens(ctx, rotation(reused, 0, "c0", "c2", now)) },
			func() error { return s.IssueTokens(ctx, rotation(revoked, 0, "d0", "d1", now)) },
			func() error { return s.IssueTokens(ctx, rotation(unknown, 0, unknown.Hash, "e1", now)) },
			func() error { return s.IssueTokens(ctx, rotation(ok, 1, "a1", "a2", now)) },
		)
		if batches != 1 || s.writes.raw.Load()-raw0 != 1 {
			t.Fatalf("%d batches, %d on the driver connection; want 1 and 1", batches, s.writes.raw.Load()-raw0)
		}
		want := []error{nil, nil, sso.ErrRefreshReused, sso.ErrTokenRevoked, sso.ErrNotFound, nil}
		for i, err := range errs {
			if (want[i] == nil) != (err == nil) || (want[i] != nil && !errors.Is(err, want[i])) {
				t.Errorf("rotation %d: %v, want %v", i, err, want[i])
			}
		}
		for _, c := range []struct {
			f       *sso.RefreshToken
			gen     int64
			hash    string
			revoked bool
		}{{ok, 2, "a2", false}, {retried, 1, "b1", false}, {reused, 1, "c1", true}, {revoked, 0, "d0", true}} {
			got, err := s.Family(ctx, c.f.FamilyID)
			if err != nil || got.Generation != c.gen || got.Hash != c.hash || got.Revoked != c.revoked {
				t.Errorf("family %s: %+v, %v; want generation %d, hash %s, revoked %v", c.hash, got, err, c.gen, c.hash, c.revoked)
			}
		}

		// Alone: done in autocommit; refused (a reuse) in a transaction that keeps the revocation.
		f := newFamily(t, s, "f0", now)
		raw0 = s.writes.raw.Load()
		if err := s.IssueTokens(ctx, rotation(f, 0, "f0", "f1", now)); err != nil {
			t.Fatal(err)
		}
		if err := s.IssueTokens(ctx, rotation(f, 0, "f0", "f9", now)); !errors.Is(err, sso.ErrRefreshReused) {
			t.Fatalf("reuse alone: %v, want ErrRefreshReused", err)
		}
		if got, err := s.Family(ctx, f.FamilyID); err != nil || !got.Revoked || got.Generation != 1 {
			t.Fatalf("family after the reuse alone: %+v, %v; want revoked at generation 1", got, err)
		}
		if n := s.writes.raw.Load() - raw0; n != 2 {
			t.Errorf("%d rotations alone on the driver connection, want 2", n)
		}
	})
}

// rawPoisons make a rotation whose new hash starts with "poison" fail in a batch of rotations,
// through TEMP objects on the write connection: a real SQLITE_FULL (the trigger inserts 256 KiB
// while the database may not grow), a foreign key violation deferred to the COMMIT, and one of
// the statement (a constraint error, which leaves the transaction as it was).
var rawPoisons = []struct {
	name  string
	setup []string
	code  int
}{
	{"full", []string{
		`CREATE TEMP TRIGGER poison AFTER UPDATE OF token_hash ON families WHEN NEW.token_hash LIKE 'poison%'
		BEGIN INSERT INTO audit_log (time, event, subject, login, client_id, ip, detail)
			VALUES (0, 'poison', '', '', '', '', hex(randomblob(131072))); END`,
	}, sqlite3lib.SQLITE_FULL},
	{"commit", []string{
		`CREATE TEMP TABLE poison_parent (id TEXT PRIMARY KEY)`,
		`CREATE TEMP TABLE poison_child (parent TEXT REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
		`CREATE TEMP TRIGGER poison AFTER UPDATE OF token_hash ON families WHEN NEW.token_hash LIKE 'poison%'
		BEGIN INSERT INTO poison_child (parent) VALUES ('none'); END`,
	}, sqlite3lib.SQLITE_CONSTRAINT},
	{"statement", []string{
		`CREATE TEMP TRIGGER poison BEFORE UPDATE OF token_hash ON families WHEN NEW.token_hash LIKE 'poison%'
		BEGIN SELECT RAISE(ABORT, 'poisoned'); END`,
	}, sqlite3lib.SQLITE_CONSTRAINT},
}

// TestRawBatchPoisonAtEveryPlace: whatever place a rotation that cannot commit has in a batch
// of rotations on the driver connection, it alone fails with its own error and is not
// committed; the others commit (runWrites splits the batch as it does for runTx's).
func TestRawBatchPoisonAtEveryPlace(t *testing.T) {
	for _, p := range rawPoisons {
		t.Run(p.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "p.db"))
			ctx := t.Context()
			now := time.Now()
			for _, q := range p.setup {
				if _, err := s.w.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if p.name == "full" {
				var pages int64
				if err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
					t.Fatal(err)
				}
				if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+8)); err != nil {
					t.Fatal(err)
				}
			}
			const n = 5
			raw0, before := s.writes.raw.Load(), s.WriteStats()
			for bad := range n {
				fams := make([]*sso.RefreshToken, n)
				writes := make([]func() error, n)
				for i := range fams {
					fams[i] = newFamily(t, s, fmt.Sprintf("h-%d-%d", bad, i), now)
					next := fmt.Sprintf("n-%d-%d", bad, i)
					if i == bad {
						next = "poison-" + next
					}
					writes[i] = func() error { return s.IssueTokens(ctx, rotation(fams[i], 0, fams[i].Hash, next, now)) }
				}
				errs, batches := batchWrites(t, s, writes...)
				if batches != 1 {
					t.Fatalf("ran in %d batches", batches)
				}
				for i, err := range errs {
					got, ferr := s.Family(ctx, fams[i].FamilyID)
					if ferr != nil {
						t.Fatal(ferr)
					}
					switch {
					case i == bad && sqliteCode(err)&0xff != p.code:
						t.Errorf("poisoned rotation at %d: %v, want its own error (code %d)", bad, err, p.code)
					case i == bad && got.Generation != 0:
						t.Errorf("poisoned rotation at %d committed", bad)
					case i != bad && err != nil:
						t.Errorf("poison at %d: rotation %d failed: %v", bad, i, err)
					case i != bad && got.Generation != 1:
						t.Errorf("poison at %d: rotation %d was not committed", bad, i)
					}
				}
			}
			st := s.WriteStats()
			if s.writes.raw.Load() == raw0 {
				t.Error("no batch ran on the driver connection")
			}
			if p.name != "statement" && st.RetriedAfterWrite+st.RetriedAfterCommit == before.RetriedAfterWrite+before.RetriedAfterCommit {
				t.Errorf("write stats %+v: want the failed batches retried", st)
			}
			// The connection is clean afterwards: a plain write commits.
			f := newFamily(t, s, "after", now)
			if err := s.IssueTokens(ctx, rotation(f, 0, "after", "after2", now)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRawBatchPanic: a rotation that panics in a batch on the driver connection panics in its
// own caller, the batch's other writes fail (nothing of the transaction is committed), and the
// connection stays: for ":memory:" it is the database, which must survive.
func TestRawBatchPanic(t *testing.T) {
	for _, name := range []string{"memory", "file"} {
		t.Run(name, func(t *testing.T) {
			var boom atomic.Bool
			path := Memory
			if name == "file" {
				path = filepath.Join(t.TempDir(), "w.db")
			}
			s := openTest(t, path, WithClock(func() time.Time {
				if boom.CompareAndSwap(true, false) {
					panic("boom")
				}
				return time.Now()
			}))
			ctx := t.Context()
			now := time.Now()
			f1, f2 := newFamily(t, s, "x0", now), newFamily(t, s, "y0", now)
			raw0 := s.writes.raw.Load()
			var recovered any
			boom.Store(true) // the first clock call, the first rotation's (applyRaw), panics
			errs, _ := batchWrites(t, s,
				func() (err error) {
					defer func() { recovered = recover() }()
					return s.IssueTokens(ctx, rotation(f1, 0, "x0", "x1", now))
				},
				func() error { return s.IssueTokens(ctx, rotation(f2, 0, "y0", "y1", now)) },
			)
			if s.writes.raw.Load() == raw0 {
				t.Fatal("the batch did not run on the driver connection")
			}
			var wp *writePanic
			if err, _ := recovered.(error); !errors.As(err, &wp) || wp.value != "boom" {
				t.Fatalf("the panicking rotation's caller recovered %v, want its panic", recovered)
			}
			if !errors.Is(errs[1], errBatchAborted) {
				t.Errorf("the other rotation: %v, want errBatchAborted", errs[0])
			}
			for _, f := range []*sso.RefreshToken{f1, f2} {
				if got, err := s.Family(ctx, f.FamilyID); err != nil || got.Generation != 0 {
					t.Errorf("family %s after the panic: %+v, %v; want it there, not rotated", f.Hash, got, err)
				}
			}
			if err := s.IssueTokens(ctx, rotation(f1, 0, "x0", "x1", now)); err != nil {
				t.Fatalf("a rotation after the panic: %v", err)
			}
		})
	}
}

// TestCloseRawWaitsForWriteGate: Close closes the statements prepared on the write connection's
// driver connection (closeRaw) only once it holds the write gate, which keeps them to one user
// at a time (onRaw): while a batch or a read on the write connection holds the gate, Close
// waits for it. Before, closeRaw read and reset s.raw without the gate.
func TestCloseRawWaitsForWriteGate(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		f := newFamily(t, s, "a0", now)
		if err := s.IssueTokens(ctx, rotation(f, 0, "a0", "a1", now)); err != nil {
			t.Fatal(err)
		}
		if s.raw.dc == nil {
			t.Fatal("the rotation did not prepare the driver statements")
		}
		if err := s.wgate.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		closed := make(chan error, 1)
		go func() { closed <- s.closeRaw() }()
		guard := deadlockGuard(t)
		for waiting := false; !waiting; {
			select {
			case err := <-closed:
				s.wgate.release()
				t.Fatalf("closeRaw returned (%v) while the write gate was held", err)
			case <-guard.Done():
				s.wgate.release()
				t.Fatal("closeRaw neither waited for the write gate nor returned")
			case <-time.After(time.Millisecond):
				s.wgate.mu.Lock()
				waiting = len(s.wgate.waiters) > 0
				s.wgate.mu.Unlock()
			}
		}
		if s.raw.dc == nil {
			t.Error("closeRaw reset the driver statements while the write gate was held")
		}
		s.wgate.release()
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if s.raw.dc != nil {
			t.Error("closeRaw left the driver statements")
		}
	})
}

// TestRawBatchSignInOutcomes: a batch of new sessions' sign-ins (CompleteSignIn) and a rotation
// runs on the driver connection (runTx: rawTxConn), each sign-in in a savepoint of its own, and
// gives each write the outcome it has on database/sql's transaction: the first completion wins
// with its session, audit row, client and code; a second completion of the same request is
// told the request is used and keeps its session and audit row; a sign-in whose session
// insert conflicts rolls back alone (no audit row, its request still pending). A sign-in alone
// runs there too, in a transaction. Without the sign-in's driver statements (rawSignInWrite)
// the raw counter stays where it was.
func TestRawBatchSignInOutcomes(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		ar, ar3 := pendingRequest(t, s, "b"), pendingRequest(t, s, "b3")
		in1, in2, in3 := signIn(ar, "b"), signIn(ar, "b"), signIn(ar3, "b3")
		in3.Session.ID, in3.Completion.SessionID = in1.Session.ID, in1.Session.ID // its session insert conflicts
		f := newFamily(t, s, "r0", now)
		raw0 := s.writes.raw.Load()
		errs, batches := batchWrites(t, s,
			func() error { return s.CompleteSignIn(ctx, in1) },
			func() error { return s.CompleteSignIn(ctx, in2) },
			func() error { return s.CompleteSignIn(ctx, in3) },
			func() error { return s.IssueTokens(ctx, rotation(f, 0, "r0", "r1", now)) },
		)
		if batches != 1 || s.writes.raw.Load()-raw0 != 1 {
			t.Fatalf("%d batches, %d on the driver connection; want 1 and 1", batches, s.writes.raw.Load()-raw0)
		}
		if errs[0] != nil || !errors.Is(errs[1], sso.ErrAuthRequestUsed) || !errors.Is(errs[2], sso.ErrConflict) || errs[3] != nil {
			t.Fatalf("outcomes %v; want nil, ErrAuthRequestUsed, ErrConflict, nil", errs)
		}
		if in1.Audit.ID == 0 || in2.Audit.ID == 0 || in1.Audit.ID == in2.Audit.ID {
			t.Errorf("audit ids %d, %d: want both set, distinct", in1.Audit.ID, in2.Audit.ID)
		}
		got, err := s.AuthRequestByCode(ctx, in1.CodeHash)
		if err != nil || !got.Done || got.SessionID != in1.Session.ID || got.Subject != in1.Completion.Subject {
			t.Fatalf("request of the first sign-in: %+v, %v", got, err)
		}
		if ss, err := s.Session(ctx, in1.Session.ID); err != nil || len(ss.Clients) != 1 || ss.Clients[0] != ar.ClientID {
			t.Errorf("first session: %+v, %v; want its request's client", ss, err)
		}
		if !sessionExists(t, s, in2.Session.ID) {
			t.Error("the losing completion's session was not kept")
		}
		if ss, err := s.Session(ctx, in2.Session.ID); err != nil || len(ss.Clients) != 0 {
			t.Errorf("losing session: %+v, %v; want no client", ss, err)
		}
		var audits int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE subject IN (?, ?, ?)`,
			in1.Audit.Subject, in2.Audit.Subject, in3.Audit.Subject).Scan(&audits); err != nil {
			t.Fatal(err)
		}
		if audits != 2 {
			t.Errorf("%d audit rows, want 2 (the conflicting sign-in's rolled back)", audits)
		}
		if got, err := s.AuthRequest(ctx, ar3.ID); err != nil || got.Done {
			t.Errorf("the conflicting sign-in's request: %+v, %v; want pending", got, err)
		}
		if got, err := s.Family(ctx, f.FamilyID); err != nil || got.Hash != "r1" {
			t.Errorf("rotated family: %+v, %v", got, err)
		}

		// Alone: in a transaction on the driver connection.
		ar4 := pendingRequest(t, s, "b4")
		in4 := signIn(ar4, "b4")
		raw0 = s.writes.raw.Load()
		if err := s.CompleteSignIn(ctx, in4); err != nil {
			t.Fatal(err)
		}
		if n := s.writes.raw.Load() - raw0; n != 1 {
			t.Errorf("%d sign-ins alone on the driver connection, want 1", n)
		}
		if got, err := s.AuthRequestByCode(ctx, in4.CodeHash); err != nil || !got.Done {
			t.Errorf("request of the sign-in alone: %+v, %v", got, err)
		}
	})
}

// TestRawBatchSignInSavepointUndoes: a sign-in whose last statement fails (its session's
// client, refused by a TEMP trigger on the write connection) after its session, audit row and
// completion were written, in a batch on the driver connection, is rolled back to its savepoint:
// no session, no audit row, its request still pending without a code; the sign-in and the
// claim next to it commit. Without the savepoint (or with RELEASE in place of ROLLBACK TO) the
// failed sign-in's first three writes would commit.
func TestRawBatchSignInSavepointUndoes(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if _, err := s.w.ExecContext(ctx, `CREATE TEMP TRIGGER poison BEFORE INSERT ON session_clients
			WHEN NEW.client_id = 'poison-client' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`); err != nil {
			t.Fatal(err)
		}
		bad, good, claimed := pendingRequest(t, s, "b1"), pendingRequest(t, s, "b2"), pendingRequest(t, s, "")
		inBad, inGood := signIn(bad, "b1"), signIn(good, "b2")
		inBad.RequestClient = "poison-client"
		raw0 := s.writes.raw.Load()
		var got *sso.AuthRequest
		errs, batches := batchWrites(t, s,
			func() error { return s.CompleteSignIn(ctx, inBad) },
			func() error { return s.CompleteSignIn(ctx, inGood) },
			func() (err error) { got, err = s.ClaimAuthRequest(ctx, claimed.ID, "b3"); return err },
		)
		if n := s.writes.raw.Load() - raw0; batches != 1 || n != 1 {
			t.Fatalf("%d batches, %d on the driver connection; want 1 and 1", batches, n)
		}
		if errs[0] == nil || errs[1] != nil || errs[2] != nil {
			t.Fatalf("outcomes %v; want the poisoned sign-in's error, nil, nil", errs)
		}
		if got == nil || got.ID != claimed.ID || got.Browser != "b3" {
			t.Errorf("claimed request: %+v, want bound to b3", got)
		}
		if sessionExists(t, s, inBad.Session.ID) {
			t.Error("the failed sign-in's session was committed")
		}
		var audits int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE subject = ?`, inBad.Audit.Subject).Scan(&audits); err != nil {
			t.Fatal(err)
		}
		if audits != 0 {
			t.Errorf("%d audit rows of the failed sign-in, want 0", audits)
		}
		if r, err := s.AuthRequest(ctx, bad.ID); err != nil || r.Done || r.CodeHash != "" {
			t.Errorf("the failed sign-in's request: %+v, %v; want pending without a code", r, err)
		}
		if ss, err := s.Session(ctx, inGood.Session.ID); err != nil || len(ss.Clients) != 1 {
			t.Errorf("the other sign-in's session: %+v, %v; want it with its client", ss, err)
		}
		if r, err := s.AuthRequest(ctx, good.ID); err != nil || !r.Done {
			t.Errorf("the other sign-in's request: %+v, %v; want done", r, err)
		}
	})
}

// TestRawBatchLoginWrites: a login's three writes (CreateAuthRequest, CompleteSignIn, the code
// grant) of several logins, batched with a rotation, run on the driver connection in one
// transaction, each with the outcome it has on database/sql's: a new request stored, a
// duplicate one refused (ErrConflict), a code exchanged once with its family and grant, the
// same code again refused (ErrCodeConsumed), an unknown code refused (ErrNotFound) without its
// family. A code grant alone and a new request alone run there too. Without the grant's and the
// request's driver statements (applyIssue over rawConn, rawStmtWrite) the raw counter stays
// where it was.
func TestRawBatchLoginWrites(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Now()
		done := pendingRequest(t, s, "b0")
		in0 := signIn(done, "b0")
		if err := s.CompleteSignIn(ctx, in0); err != nil {
			t.Fatal(err)
		}
		ar := pendingRequest(t, s, "b1")
		in1 := signIn(ar, "b1")
		dup := pendingRequest(t, s, "")
		newReq := &sso.AuthRequest{ID: sso.TimeOrderedToken(now), ClientID: "client-a", Scopes: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		f0, f1, f2, rotated := benchFamily(now), benchFamily(now), benchFamily(now), newFamily(t, s, "r0", now)
		raw0 := s.writes.raw.Load()
		errs, batches := batchWrites(t, s,
			func() error { return s.CreateAuthRequest(ctx, newReq) },
			func() error { return s.CreateAuthRequest(ctx, dup) },
			func() error { return s.CompleteSignIn(ctx, in1) },
			func() error {
				return s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in0.CodeHash, ConsumeCodeRequest: in0.RequestID, Family: f0})
			},
			func() error {
				return s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in0.CodeHash, ConsumeCodeRequest: in0.RequestID, Family: f1})
			},
			func() error {
				return s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: "no-such-code", ConsumeCodeRequest: done.ID, Family: f2})
			},
			func() error { return s.IssueTokens(ctx, rotation(rotated, 0, "r0", "r1", now)) },
		)
		if batches != 1 || s.writes.raw.Load()-raw0 != 1 {
			t.Fatalf("%d batches, %d on the driver connection; want 1 and 1", batches, s.writes.raw.Load()-raw0)
		}
		want := []error{nil, sso.ErrConflict, nil, nil, sso.ErrCodeConsumed, sso.ErrNotFound, nil}
		for i, err := range errs {
			if (want[i] == nil) != (err == nil) || (want[i] != nil && !errors.Is(err, want[i])) {
				t.Errorf("write %d: %v, want %v", i, err, want[i])
			}
		}
		if got, err := s.AuthRequest(ctx, newReq.ID); err != nil || got.ClientID != "client-a" || len(got.Scopes) != 1 || got.MaxAge != nil {
			t.Errorf("new request: %+v, %v", got, err)
		}
		if got, err := s.AuthRequestByCode(ctx, in0.CodeHash); err != nil || !got.CodeConsumed {
			t.Errorf("exchanged code's request: %+v, %v", got, err)
		}
		if got, err := s.Family(ctx, f0.FamilyID); err != nil || got.Hash != f0.Hash || got.Subject != f0.Subject || got.ClientID != f0.ClientID {
			t.Errorf("exchanged code's family: %+v, %v; want %+v", got, err, f0)
		}
		for _, f := range []*sso.RefreshToken{f1, f2} {
			if _, err := s.Family(ctx, f.FamilyID); !errors.Is(err, sso.ErrNotFound) {
				t.Errorf("refused grant's family: %v, want ErrNotFound (rolled back with its savepoint)", err)
			}
		}
		if got, err := s.AuthRequestByCode(ctx, in1.CodeHash); err != nil || !got.Done || got.CodeConsumed {
			t.Errorf("batched sign-in's request: %+v, %v", got, err)
		}

		// Alone: a code grant in a transaction, a new request in autocommit.
		f3 := benchFamily(now)
		maxAge := time.Minute
		alone := &sso.AuthRequest{ID: sso.TimeOrderedToken(now), ClientID: "client-a", MaxAge: &maxAge, Done: true, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		raw0 = s.writes.raw.Load()
		if err := s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in1.CodeHash, ConsumeCodeRequest: in1.RequestID, Family: f3}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAuthRequest(ctx, alone); err != nil {
			t.Fatal(err)
		}
		if n := s.writes.raw.Load() - raw0; n != 2 {
			t.Errorf("%d writes alone on the driver connection, want 2", n)
		}
		if _, err := s.Family(ctx, f3.FamilyID); err != nil {
			t.Error(err)
		}
		if got, err := s.AuthRequest(ctx, alone.ID); err != nil || got.MaxAge == nil || *got.MaxAge != maxAge || !got.Done {
			t.Errorf("request alone: %+v, %v", got, err)
		}
	})
}

// TestRawExecArgsRefusesOtherTypes: the driver path's execArgs runs a statement with strings,
// int64s, ints (as int64) and nil, and refuses any other type with errRawArg before the
// statement runs, leaving its argument slots empty and numbered: database/sql converts a bool,
// an int32, a time.Time, a named string type or a driver.Valuer, and the driver given one
// unconverted would store something else or fail obscurely.
func TestRawExecArgsRefusesOtherTypes(t *testing.T) {
	type named string
	s := openTest(t, filepath.Join(t.TempDir(), "args.db"))
	ctx := t.Context()
	now := time.Now()
	for _, tc := range []struct {
		name string
		arg  any
		ok   bool
	}{
		{"string", "x", true}, {"int64", int64(7), true}, {"int", 7, true}, {"nil", nil, true},
		{"bool", true, false}, {"int32", int32(7), false}, {"uint", uint(7), false}, {"float64", 1.5, false},
		{"time", now, false}, {"bytes", []byte("x"), false}, {"named string", named("x"), false},
		{"valuer", sql.NullString{String: "x", Valid: true}, false},
	} {
		id := "args-" + strings.ReplaceAll(tc.name, " ", "-")
		var err error
		if rerr := s.onRaw(ctx, func(rc *rawConn) {
			// A new request whose max_age (a nullable INTEGER) is the argument.
			_, err = rc.execArgs(ctx, rc.createAuthRequestStmt, id, "client-a", "", "", "", "", "code", "", "", "",
				"", tc.arg, "", "", ts(now), ts(now.Add(time.Hour)), int64(0), "", int64(0), "", "", "", "", "", "")
			for i, a := range rc.args {
				if a.Value != nil || a.Ordinal != i+1 {
					t.Errorf("%s: argument slot %d left as %+v", tc.name, i, a)
				}
			}
		}); rerr != nil {
			t.Fatal(rerr)
		}
		var n int
		if qerr := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_requests WHERE id = ?`, id).Scan(&n); qerr != nil {
			t.Fatal(qerr)
		}
		switch {
		case tc.ok && (err != nil || n != 1):
			t.Errorf("%s: %v, %d rows; want it inserted", tc.name, err, n)
		case !tc.ok && (!errors.Is(err, errRawArg) || n != 0):
			t.Errorf("%s: %v, %d rows; want errRawArg and nothing inserted", tc.name, err, n)
		}
	}
}
