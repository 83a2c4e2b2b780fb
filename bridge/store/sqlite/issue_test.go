package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// inOneBatch runs the grants concurrently while holding the leader slot until all of them are
// queued, so that they are applied by a single transaction, and returns their errors.
func inOneBatch(t *testing.T, s *Store, ctxs []context.Context, ins []sso.Issue, queued func()) []error {
	t.Helper()
	q := s.issues
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

func access(now time.Time, family string) sso.AccessToken {
	return sso.AccessToken{IDHash: ssotest.RandomID(), ClientID: "c", Subject: "u", FamilyID: family,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
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

			// A code, used by two grants of the batch.
			ar := &sso.AuthRequest{ID: "ar", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateAuthRequest(ctx, ar); err != nil {
				t.Fatal(err)
			}
			if err := s.CompleteAuthRequest(ctx, "ar", sso.Completion{Subject: "u", AuthTime: now}); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveCode(ctx, "ar", "code", now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			// A second code, whose grant fails late (duplicate access id): its consumption must
			// be rolled back without touching the rest of the batch.
			ar2 := &sso.AuthRequest{ID: "ar2", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateAuthRequest(ctx, ar2); err != nil {
				t.Fatal(err)
			}
			if err := s.CompleteAuthRequest(ctx, "ar2", sso.Completion{Subject: "u", AuthTime: now}); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveCode(ctx, "ar2", "code2", now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			existing := access(now, "")
			if err := s.IssueTokens(ctx, sso.Issue{Access: existing}); err != nil {
				t.Fatal(err)
			}
			// A family rotated once, whose old token is reused in the batch.
			old := &sso.RefreshToken{Hash: "old", FamilyID: "fam", ClientID: "c", Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := s.IssueTokens(ctx, sso.Issue{Access: access(now, "fam"), Refresh: old}); err != nil {
				t.Fatal(err)
			}
			next := *old
			next.Hash = "next"
			if err := s.IssueTokens(ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: "old", Now: now, Grace: time.Second},
				Access: access(now, "fam"), Refresh: &next}); err != nil {
				t.Fatal(err)
			}
			cancelled, cancel := context.WithCancel(ctx)

			dup := access(now, "")
			dup.IDHash = existing.IDHash
			ins := []sso.Issue{
				{ConsumeCodeHash: "code", Access: access(now, "")},
				{ConsumeCodeHash: "code", Access: access(now, "")},
				{ConsumeCodeHash: "code2", Access: dup},
				{Rotate: &sso.RotateFrom{OldHash: "old", Now: now.Add(time.Minute), Grace: time.Second},
					Access: access(now, "fam"), Refresh: &sso.RefreshToken{Hash: "other", FamilyID: "fam", ClientID: "c",
						Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}},
				{Access: access(now, "")},
				{Access: access(now, "")}, // cancelled before it is applied
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
				t.Fatalf("duplicate access grant: %v", errs[2])
			}
			if r, err := s.AuthRequestByCode(ctx, "code2"); err != nil || r.CodeConsumed {
				t.Fatalf("code of the failed grant: %+v, %v; want unconsumed", r, err)
			}
			if !errors.Is(errs[3], sso.ErrRefreshReused) {
				t.Fatalf("reuse grant: %v", errs[3])
			}
			if rt, err := s.RefreshToken(ctx, "next"); err != nil || !rt.Revoked {
				t.Fatalf("successor after reuse in a batch: %+v, %v; want revoked", rt, err)
			}
			if errs[4] != nil {
				t.Fatalf("plain grant: %v", errs[4])
			}
			if _, err := s.AccessToken(ctx, ins[4].Access.IDHash); err != nil {
				t.Fatalf("plain grant's token: %v", err)
			}
			if !errors.Is(errs[5], context.Canceled) {
				t.Fatalf("cancelled grant: %v", errs[5])
			}
			if _, err := s.AccessToken(ctx, ins[5].Access.IDHash); !errors.Is(err, sso.ErrNotFound) {
				t.Fatalf("cancelled grant's token: %v", err)
			}
		})
	}
}
