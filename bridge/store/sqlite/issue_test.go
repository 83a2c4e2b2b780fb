package sqlite

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// inOneBatch runs the grants concurrently while holding the leader slot until all of them are
// queued, so that they are applied by a single transaction, and returns their errors.
func inOneBatch(t *testing.T, s *Store, ctxs []context.Context, ins []sso.Issue, queued func()) []error {
	t.Helper()
	q := s.writes
	q.leader <- struct{}{}
	before := q.batches.Load()
	errs := make([]error, len(ins))
	done := make(chan int)
	for i := range ins {
		ctx := t.Context()
		if ctxs != nil && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		go func() {
			errs[i] = s.IssueTokens(ctx, ins[i])
			done <- i
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		q.mu.Lock()
		n := len(q.pending)
		q.mu.Unlock()
		if n == len(ins) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d grants queued", n, len(ins))
		}
		time.Sleep(time.Millisecond)
	}
	if queued != nil {
		queued()
	}
	<-q.leader
	for range ins {
		<-done
	}
	if got := q.batches.Load() - before; got != 1 {
		t.Fatalf("%d grants ran in %d transactions, want 1", len(ins), got)
	}
	return errs
}

func family(now time.Time, id string) *sso.RefreshToken {
	if id == "" {
		id = ssotest.RandomID()
	}
	return &sso.RefreshToken{FamilyID: id, ClientID: "c", Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func TestGroupCommit(t *testing.T) {
	for _, path := range []string{Memory, "file"} {
		t.Run(path, func(t *testing.T) {
			if path == "file" {
				path = t.TempDir() + "/g.db"
			}
			s := openTest(t, path)
			ctx := t.Context()
			now := ssotest.Now()

			// Two codes: "code" used by two grants of the batch; "code2" by a grant that fails
			// late (duplicate family id): its consumption must be rolled back without touching
			// the rest of the batch.
			for _, c := range []struct{ id, code string }{{"ar", "code"}, {"ar2", "code2"}} {
				ar := &sso.AuthRequest{ID: c.id, ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := s.CreateAuthRequest(ctx, ar); err != nil {
					t.Fatal(err)
				}
				if err := s.CompleteAuthRequest(ctx, c.id, sso.Completion{Subject: "u", AuthTime: now}); err != nil {
					t.Fatal(err)
				}
				if err := s.SaveCode(ctx, c.id, c.code, now.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			existing := family(now, "")
			if err := s.IssueTokens(ctx, sso.Issue{Family: existing}); err != nil {
				t.Fatal(err)
			}
			// A family rotated once, whose old token is reused in the batch.
			fam := family(now, "fam")
			fam.Hash = "old"
			if err := s.IssueTokens(ctx, sso.Issue{Family: fam}); err != nil {
				t.Fatal(err)
			}
			if err := s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: "fam", OldHash: "old", NewHash: "next",
				Now: now, Grace: time.Second}}); err != nil {
				t.Fatal(err)
			}
			cancelled, cancel := context.WithCancel(ctx)

			ins := []sso.Issue{
				{ConsumeCodeHash: "code", ConsumeCodeRequest: "ar", Family: family(now, "")},
				{ConsumeCodeHash: "code", ConsumeCodeRequest: "ar", Family: family(now, "")},
				{ConsumeCodeHash: "code2", ConsumeCodeRequest: "ar2", Family: family(now, existing.FamilyID)},
				{Rotate: &sso.Rotation{FamilyID: "fam", OldHash: "old", NewHash: "other", Now: now.Add(time.Minute), Grace: time.Second}},
				{Family: family(now, "")},
				{Family: family(now, "")}, // cancelled before it is applied
			}
			ctxs := make([]context.Context, len(ins))
			ctxs[5] = cancelled
			// Cancelled once everything is queued, before the batch runs.
			errs := inOneBatch(t, s, ctxs, ins, cancel)

			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("code grants: %v, %v; want exactly one success", errs[0], errs[1])
			}
			for _, err := range errs[:2] {
				if err != nil && !errors.Is(err, sso.ErrCodeConsumed) {
					t.Fatalf("losing code grant: %v", err)
				}
			}
			if !errors.Is(errs[2], sso.ErrConflict) {
				t.Fatalf("duplicate family grant: %v", errs[2])
			}
			if r, err := s.AuthRequestByCode(ctx, "code2"); err != nil || r.CodeConsumed {
				t.Fatalf("code of the failed grant: %+v, %v; want unconsumed", r, err)
			}
			if !errors.Is(errs[3], sso.ErrRefreshReused) {
				t.Fatalf("reuse grant: %v", errs[3])
			}
			if f, err := s.Family(ctx, "fam"); err != nil || !f.Revoked || f.Hash != "next" {
				t.Fatalf("family after reuse in a batch: %+v, %v; want revoked at next", f, err)
			}
			if errs[4] != nil {
				t.Fatalf("plain grant: %v", errs[4])
			}
			if _, err := s.Family(ctx, ins[4].Family.FamilyID); err != nil {
				t.Fatalf("plain grant's family: %v", err)
			}
			if !errors.Is(errs[5], context.Canceled) {
				t.Fatalf("cancelled grant: %v", errs[5])
			}
			if _, err := s.Family(ctx, ins[5].Family.FamilyID); !errors.Is(err, sso.ErrNotFound) {
				t.Fatalf("cancelled grant's family: %v", err)
			}
		})
	}
}

// TestOneRowPerFamily: a family rotated a hundred times is still one row, and no other table
// grows with its grants.
func TestOneRowPerFamily(t *testing.T) {
	s := openTest(t, Memory)
	ctx := t.Context()
	now := ssotest.Now()
	f := family(now, "")
	f.Hash = ssotest.RandomID()
	if err := s.IssueTokens(ctx, sso.Issue{Family: f}); err != nil {
		t.Fatal(err)
	}
	rows := func() (n int) {
		t.Helper()
		tables, err := s.r.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for tables.Next() {
			var name string
			if err := tables.Scan(&name); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		tables.Close()
		for _, name := range names {
			var k int
			if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+name+`"`).Scan(&k); err != nil {
				t.Fatal(err)
			}
			n += k
		}
		return n
	}
	before := rows()
	for range 100 {
		r := &sso.Rotation{FamilyID: f.FamilyID, Generation: f.Generation, OldHash: f.Hash, NewHash: ssotest.RandomID(), Now: now}
		if err := s.IssueTokens(ctx, sso.Issue{Rotate: r}); err != nil {
			t.Fatal(err)
		}
		f = ssotest.Applied(f, r)
	}
	if after := rows(); after != before {
		t.Fatalf("rows after 100 rotations: %d, before: %d", after, before)
	}
	if got, err := s.Family(ctx, f.FamilyID); err != nil || got.Generation != 100 || got.Hash != f.Hash {
		t.Fatalf("Family after 100 rotations = %+v, %v", got, err)
	}
}

// TestGroupCommitRotations: refresh rotations applied by one transaction without savepoints
// each get their own outcome, and only what each keeps is written: a rotation, the revocation
// of a reused family, nothing for a revoked or expired family or a grace retry.
func TestGroupCommitRotations(t *testing.T) {
	s := openTest(t, t.TempDir()+"/r.db")
	ctx := t.Context()
	now := ssotest.Now()
	add := func(id, hash string, expires time.Time) {
		t.Helper()
		f := family(now, id)
		f.Hash, f.ExpiresAt = hash, expires
		if err := s.IssueTokens(ctx, sso.Issue{Family: f}); err != nil {
			t.Fatal(err)
		}
	}
	rotate := func(id, old, next string, at time.Time) *sso.Rotation {
		return &sso.Rotation{FamilyID: id, OldHash: old, NewHash: next, Now: at, Grace: time.Minute}
	}
	add("ok", "ok-0", now.Add(time.Hour))
	add("reused", "reused-0", now.Add(time.Hour))
	add("revoked", "revoked-0", now.Add(time.Hour))
	add("expired", "expired-0", now.Add(time.Second))
	add("retried", "retried-0", now.Add(time.Hour))
	for _, r := range []*sso.Rotation{rotate("reused", "reused-0", "reused-1", now), rotate("retried", "retried-0", "retried-1", now)} {
		if err := s.IssueTokens(ctx, sso.Issue{Rotate: r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeFamily(ctx, "revoked"); err != nil {
		t.Fatal(err)
	}
	at := now.Add(2 * time.Second)
	errs := inOneBatch(t, s, nil, []sso.Issue{
		{Rotate: rotate("ok", "ok-0", "ok-1", at)},
		{Rotate: rotate("reused", "reused-0", "reused-x", at)},
		{Rotate: rotate("revoked", "revoked-0", "revoked-1", at)},
		{Rotate: rotate("expired", "expired-0", "expired-1", at)},
		{Rotate: rotate("retried", "retried-0", "retried-1", at)},
		{Rotate: rotate("missing", "missing-0", "missing-1", at)},
	}, nil)
	for i, want := range []error{nil, sso.ErrRefreshReused, sso.ErrTokenRevoked, sso.ErrNotFound, nil, sso.ErrNotFound} {
		if (want == nil) != (errs[i] == nil) || (want != nil && !errors.Is(errs[i], want)) {
			t.Errorf("grant %d: %v, want %v", i, errs[i], want)
		}
	}
	for _, c := range []struct {
		id, hash string
		gen      int64
		revoked  bool
	}{
		{"ok", "ok-1", 1, false}, {"reused", "reused-1", 1, true}, {"revoked", "revoked-0", 0, true},
		{"expired", "expired-0", 0, false}, {"retried", "retried-1", 1, false},
	} {
		f, err := s.Family(ctx, c.id)
		if err != nil && c.id != "expired" {
			t.Fatalf("%s: %v", c.id, err)
		}
		if err == nil && (f.Hash != c.hash || f.Generation != c.gen || f.Revoked != c.revoked) {
			t.Errorf("%s after the batch: hash %s gen %d revoked %v; want %s %d %v", c.id, f.Hash, f.Generation, f.Revoked, c.hash, c.gen, c.revoked)
		}
	}
}

// TestGroupCommitOneProcessor: with one processor (the load runs' GOMAXPROCS=1), grants that
// are ready together share a transaction: the leader lets them reach the queue before it takes
// it, instead of committing each alone while the others wait to run.
func TestGroupCommitOneProcessor(t *testing.T) {
	s := openTest(t, t.TempDir()+"/p.db")
	ctx := t.Context()
	now := ssotest.Now()
	const n = 8
	fams := make([]*sso.RefreshToken, n)
	for i := range fams {
		fams[i] = family(now, "")
		fams[i].Hash = ssotest.RandomID()
		if err := s.IssueTokens(ctx, sso.Issue{Family: fams[i]}); err != nil {
			t.Fatal(err)
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	before := s.writes.batches.Load()
	errs := make(chan error, n)
	for _, f := range fams {
		go func() {
			errs <- s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: f.FamilyID, OldHash: f.Hash, NewHash: ssotest.RandomID(), Now: now}})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := s.writes.batches.Load() - before; got > n/2 {
		t.Fatalf("%d grants ready together ran in %d transactions, want at most %d", n, got, n/2)
	}
}
