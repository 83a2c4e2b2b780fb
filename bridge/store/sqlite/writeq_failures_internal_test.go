package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
	"github.com/ssobridge/ssobridge/sso"
)

// A poison is a write that cannot commit, for a reason of its own: its neighbours in a batch
// must get their own outcomes.
type poison struct {
	name string
	// fn is the write; it fails, or its transaction's COMMIT does, with code.
	fn   func(ctx context.Context, tx *sql.Tx) error
	code int
}

// poisons are the ways a write fails its transaction:
//   - full: a real SQLITE_FULL (the database may not grow: PRAGMA max_page_count is lowered to
//     its size for one large insert), an error that may have rolled the transaction back, so
//     the batch ends there;
//   - commit: a foreign key violation deferred to the COMMIT, which then fails without saying
//     whose write caused it.
var poisons = []poison{
	{name: "full", fn: diskFullWrite, code: sqlite3lib.SQLITE_FULL},
	{name: "commit", fn: deferredFKWrite, code: sqlite3lib.SQLITE_CONSTRAINT},
}

// diskFullWrite inserts 256 KiB while the database may not grow by a page: SQLITE_FULL. It sets
// the limit back before returning, also when SQLITE_FULL rolled the transaction back.
func diskFullWrite(ctx context.Context, tx *sql.Tx) error {
	var limit, pages int64
	if err := tx.QueryRowContext(ctx, `PRAGMA max_page_count`).Scan(&limit); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (time, event, subject, login, client_id, ip, detail)
		VALUES (0, 'poison', '', '', '', '', hex(randomblob(131072)))`)
	if _, rerr := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, limit)); rerr != nil {
		panic(rerr) // the store would stay full
	}
	if err == nil {
		return errors.New("the database grew past max_page_count")
	}
	return err
}

// deferredFKWrite adds a client to no session with the foreign key check deferred to the
// COMMIT: the write succeeds, the COMMIT fails.
func deferredFKWrite(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO session_clients (session_id, client_id, seq) VALUES ('no-such-session', 'poison', 1)`)
	return err
}

// failed reports whether err is p's own failure.
func (p poison) failed(err error) bool { return sqliteCode(err)&0xff == p.code }

// TestPoisonsFail: each poison fails when it runs alone, and leaves nothing (else the tests
// below would test nothing).
func TestPoisonsFail(t *testing.T) {
	for _, p := range poisons {
		t.Run(p.name, func(t *testing.T) {
			testStores(t, func(t *testing.T, s *Store) {
				for range 2 {
					if err := s.writeTx(t.Context(), p.fn); !p.failed(err) {
						t.Fatalf("poison alone: %v", err)
					}
				}
				var n int
				if err := s.r.QueryRowContext(t.Context(), `SELECT (SELECT COUNT(*) FROM audit_log WHERE event = 'poison')
					+ (SELECT COUNT(*) FROM session_clients WHERE client_id = 'poison')`).Scan(&n); err != nil || n != 0 {
					t.Fatalf("poison rows left: %d, %v", n, err)
				}
				if err := s.CreateSession(t.Context(), &sso.Session{ID: "after", Subject: "u", AuthTime: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
					t.Fatalf("a write after the poison: %v", err)
				}
			})
		})
	}
}

// TestConformanceNextToFailingWrites runs the store conformance suite (every compare-and-set
// and its sentinel error: ErrAuthRequestUsed, ErrCodeConsumed, ErrRefreshReused, ErrConflict
// ...) with a poison queued before and after every write, in its batch: every write's outcome
// is the one it has alone. Before each write got its own outcome, the writes next to a poison
// failed with "write batch aborted" (full) or the COMMIT's error (commit).
func TestConformanceNextToFailingWrites(t *testing.T) {
	for _, p := range poisons {
		t.Run(p.name, func(t *testing.T) {
			var failed atomic.Int64
			var stores []*Store
			storetest.Run(t, func(t *testing.T) store.Store {
				s := openTest(t, filepath.Join(t.TempDir(), "ssobridge.db"))
				s.testNeighbour = func(ctx context.Context, tx *sql.Tx) error {
					err := p.fn(ctx, tx)
					if err != nil {
						failed.Add(1)
					}
					return err
				}
				stores = append(stores, s)
				return s
			})
			var retried int64
			for _, s := range stores {
				st := s.WriteStats()
				retried += st.RetriedAfterWrite + st.RetriedAfterCommit
			}
			if failed.Load() == 0 || retried == 0 {
				t.Fatalf("poisons failed %d times, %d batches retried: the suite ran next to no failing write", failed.Load(), retried)
			}
			t.Logf("%d stores, %d batches retried", len(stores), retried)
		})
	}
}

// batchAround is batchWrites with p queued before and after writes, in their batch; it returns
// the errors of writes.
func batchAround(t *testing.T, s *Store, p poison, writes ...func() error) ([]error, int64) {
	t.Helper()
	ctx := t.Context()
	poisoned := func() error {
		if err := s.writeTx(ctx, p.fn); !p.failed(err) {
			t.Errorf("poison: %v, want its own failure", err)
		}
		return nil
	}
	all := append(append([]func() error{poisoned}, writes...), poisoned)
	errs, batches := batchWrites(t, s, all...)
	return errs[1 : len(errs)-1], batches
}

// TestWriteBatchOwnOutcomesNextToFailingWrite: the compare-and-set transitions of
// TestWriteBatchSameRow, and the isolation of TestWriteBatchIsolation, in a batch that also
// holds a write that cannot commit: each write gets the outcome it has without the poison, the
// poison fails alone, and the losers' sentinels survive (errors.Is).
func TestWriteBatchOwnOutcomesNextToFailingWrite(t *testing.T) {
	for _, p := range poisons {
		t.Run(p.name, func(t *testing.T) {
			testStores(t, func(t *testing.T, s *Store) {
				ctx := t.Context()
				now := time.Now()
				before := s.WriteStats()

				ar := pendingRequest(t, s, "")
				var claims [2]*sso.AuthRequest
				errs, batches := batchAround(t, s, p,
					func() (err error) { claims[0], err = s.ClaimAuthRequest(ctx, ar.ID, "b1"); return err },
					func() (err error) { claims[1], err = s.ClaimAuthRequest(ctx, ar.ID, "b2"); return err },
				)
				if batches != 1 || errs[0] != nil || errs[1] != nil {
					t.Fatalf("claims: %v in %d batches", errs, batches)
				}
				if claims[0] == nil || claims[0].Browser != "b1" || claims[1] != nil {
					t.Fatalf("claims: %+v, %+v; want the first to bind, the second nothing", claims[0], claims[1])
				}

				ar = pendingRequest(t, s, "b")
				in1, in2 := signIn(ar, "b"), signIn(ar, "b")
				dup := pendingRequest(t, s, "")
				errs, _ = batchAround(t, s, p,
					func() error { return s.CompleteSignIn(ctx, in1) },
					func() error { return s.CompleteSignIn(ctx, in2) },
					func() error { return s.CreateAuthRequest(ctx, dup) },
				)
				if errs[0] != nil || !errors.Is(errs[1], sso.ErrAuthRequestUsed) || !errors.Is(errs[2], sso.ErrConflict) {
					t.Fatalf("sign-ins: %v; want nil, ErrAuthRequestUsed, ErrConflict", errs)
				}
				if !sessionExists(t, s, in1.Session.ID) {
					t.Fatal("the winning sign-in's session was not committed")
				}

				f1, f2 := benchFamily(now), benchFamily(now)
				errs, _ = batchAround(t, s, p,
					func() error {
						return s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in1.CodeHash, ConsumeCodeRequest: in1.RequestID, Family: f1})
					},
					func() error {
						return s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in1.CodeHash, ConsumeCodeRequest: in1.RequestID, Family: f2})
					},
				)
				if errs[0] != nil || !errors.Is(errs[1], sso.ErrCodeConsumed) {
					t.Fatalf("code exchanges: %v; want nil, ErrCodeConsumed", errs)
				}
				if _, err := s.Family(ctx, f1.FamilyID); err != nil {
					t.Errorf("the first exchange's family: %v", err)
				}

				f := benchFamily(now)
				f.Hash = "h0"
				if err := s.IssueTokens(ctx, sso.Issue{Family: f}); err != nil {
					t.Fatal(err)
				}
				errs, _ = batchAround(t, s, p,
					func() error {
						return s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: f.FamilyID, OldHash: "h0", NewHash: "h1", Now: now}})
					},
					func() error {
						return s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: f.FamilyID, OldHash: "h0", NewHash: "h1b", Now: now}})
					},
				)
				if errs[0] != nil || !errors.Is(errs[1], sso.ErrRefreshReused) {
					t.Fatalf("rotations: %v; want nil, ErrRefreshReused", errs)
				}
				if got, err := s.Family(ctx, f.FamilyID); err != nil || !got.Revoked || got.Generation != 1 {
					t.Fatalf("family after the batch: %+v, %v; want revoked at generation 1 (the reuse's revocation kept)", got, err)
				}

				st := s.WriteStats()
				if st.Failed-before.Failed < 4 || st.RetriedAfterWrite+st.RetriedAfterCommit == before.RetriedAfterWrite+before.RetriedAfterCommit {
					t.Errorf("write stats %+v (before %+v): want the failed transactions and the retries counted", st, before)
				}
			})
		})
	}
}

// TestWriteBatchCommitFailsAfterEveryWrite: whatever place the write whose COMMIT fails has in
// its batch, it alone fails; the others commit.
func TestWriteBatchCommitFailsAtEveryPlace(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "c.db"))
	ctx := t.Context()
	now := time.Now()
	const n = 7
	for bad := range n {
		writes := make([]func() error, n)
		ids := make([]string, n)
		for i := range writes {
			ids[i] = fmt.Sprintf("s-%d-%d", bad, i)
			if i == bad {
				writes[i] = func() error { return s.writeTx(ctx, deferredFKWrite) }
				continue
			}
			writes[i] = func() error {
				return s.CreateSession(ctx, &sso.Session{ID: ids[i], Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)})
			}
		}
		errs, batches := batchWrites(t, s, writes...)
		if batches != 1 {
			t.Fatalf("ran in %d batches", batches)
		}
		for i, err := range errs {
			switch {
			case i == bad && err == nil:
				t.Errorf("bad write at %d reported done", bad)
			case i == bad && sessionExists(t, s, ids[i]):
				t.Errorf("bad write at %d committed", bad)
			case i != bad && err != nil:
				t.Errorf("bad write at %d: write %d failed: %v", bad, i, err)
			case i != bad && !sessionExists(t, s, ids[i]):
				t.Errorf("bad write at %d: write %d was not committed", bad, i)
			}
		}
	}
}

// TestClaimScanFailureLeavesNothing: a claim whose row cannot be decoded after the UPDATE bound
// it (a corrupt list column) reports the error and leaves the request unbound, alone and in a
// batch (the claim has a savepoint there), both on the write connection's driver statements
// (claimWrite is a rawTxWriter: the raw counter moves once each). As a single write without
// one, the binding stayed while its caller was told it failed.
func TestClaimScanFailureLeavesNothing(t *testing.T) {
	testStores(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		bad := func() *sso.AuthRequest {
			ar := pendingRequest(t, s, "")
			if _, err := s.w.ExecContext(ctx, `UPDATE auth_requests SET scopes = '["openid' WHERE id = ?`, ar.ID); err != nil {
				t.Fatal(err)
			}
			return ar
		}
		browserOf := func(id string) string {
			var b string
			if err := s.r.QueryRowContext(ctx, `SELECT browser FROM auth_requests WHERE id = ?`, id).Scan(&b); err != nil {
				t.Fatal(err)
			}
			return b
		}
		ar := bad()
		raw0 := s.writes.raw.Load()
		if _, err := s.ClaimAuthRequest(ctx, ar.ID, "b1"); err == nil {
			t.Fatal("claim of an undecodable request: no error")
		}
		if b := browserOf(ar.ID); b != "" {
			t.Errorf("alone: the failed claim bound the request to %q", b)
		}
		if n := s.writes.raw.Load() - raw0; n != 1 {
			t.Errorf("claim alone: %d transactions on the driver connection, want 1", n)
		}
		ar, other := bad(), pendingRequest(t, s, "")
		raw0 = s.writes.raw.Load()
		errs, batches := batchWrites(t, s,
			func() error { _, err := s.ClaimAuthRequest(ctx, ar.ID, "b1"); return err },
			func() error { _, err := s.ClaimAuthRequest(ctx, other.ID, "b2"); return err },
		)
		if errs[0] == nil || errs[1] != nil {
			t.Fatalf("claims in a batch: %v; want an error, nil", errs)
		}
		if n := s.writes.raw.Load() - raw0; batches != 1 || n != 1 {
			t.Errorf("claims: %d batches, %d on the driver connection; want 1 and 1", batches, n)
		}
		if b := browserOf(ar.ID); b != "" {
			t.Errorf("in a batch: the failed claim bound the request to %q", b)
		}
		if b := browserOf(other.ID); b != "b2" {
			t.Errorf("in a batch: the good claim bound %q, want b2", b)
		}
	})
}

// TestWriteStatsCount: commits are counted by their size, a write alone in autocommit as one.
func TestWriteStatsCount(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "m.db"))
	ctx := t.Context()
	now := time.Now()
	before := s.WriteStats()
	if err := s.Audit(ctx, &store.AuditEvent{Event: "alone"}); err != nil {
		t.Fatal(err)
	}
	writes := make([]func() error, 5)
	for i := range writes {
		writes[i] = func() error {
			return s.CreateSession(ctx, &sso.Session{ID: fmt.Sprintf("w%d", i), Subject: "u", AuthTime: now, ExpiresAt: now.Add(time.Hour)})
		}
	}
	if _, batches := batchWrites(t, s, writes...); batches != 1 {
		t.Fatalf("%d batches", batches)
	}
	after := s.WriteStats()
	var got [commitBuckets]int64
	for i := range got {
		got[i] = after.Commits[i] - before.Commits[i]
	}
	want := [commitBuckets]int64{1, 0, 0, 1} // one of 1, one of 5 (at most 8)
	if got != want || after.Writes-before.Writes != 6 || after.Failed != before.Failed {
		t.Fatalf("commits by size %v, writes %d, failed %d; want %v, 6, 0", got, after.Writes-before.Writes, after.Failed-before.Failed, want)
	}
}
