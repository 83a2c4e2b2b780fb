package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestIssuePanicLeavesWritesWorking (review s7 G2): a grant that panics inside the group
// commit (a bug; here a statement that is not prepared) fails its caller, and the store goes
// on: the next grant and the next write are applied. Before, the panicking leader never gave
// back the leader's place nor ended its transaction, so every later grant waited for a leader
// that never came and every write for the one write connection, which the open transaction
// kept: one panic stopped sign-ins and refreshes until a restart.
func TestIssuePanicLeavesWritesWorking(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "panic.db"))
	ctx := t.Context()
	now := time.Now()
	// A first grant prepares the write connection's driver statements, where grants run
	// (rawTxConn) unless their batch holds another kind of write (sqlTxConn).
	if err := s.IssueTokens(ctx, sso.Issue{Family: benchFamily(now)}); err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 3} {
		saved, savedRaw := s.st.insertFamily, s.raw.insertFamilyStmt
		s.st.insertFamily = nil      // tx.StmtContext(ctx, nil) panics
		s.raw.insertFamilyStmt = nil // and so does a call of a nil driver statement
		done := make(chan any, batch)
		for range batch {
			go func() {
				defer func() { done <- recover() }()
				_ = s.IssueTokens(ctx, sso.Issue{Family: benchFamily(now)})
			}()
		}
		panicked := 0
		for range batch {
			if <-done != nil {
				panicked++
			}
		}
		s.st.insertFamily, s.raw.insertFamilyStmt = saved, savedRaw
		if panicked == 0 {
			t.Fatalf("batch of %d: no grant panicked", batch)
		}
		// A safety net, not a timed assertion: on the old code these wait forever.
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if err := s.IssueTokens(wctx, sso.Issue{Family: benchFamily(now)}); err != nil {
			t.Fatalf("batch of %d: a grant after the panic: %v", batch, err)
		}
		if err := s.CreateSession(wctx, &sso.Session{ID: sso.RandomToken(), Subject: "alice", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatalf("batch of %d: a write after the panic: %v", batch, err)
		}
		cancel()
	}
}
