package postgres_test

// Review s23 X-2 (goes in bridge/store/postgres, with export_review_x2_test.go). Fails on main
// at c440fa4: RevokeGrants revokes the families (one statement) before it closes the pending
// codes (the next statement), so under READ COMMITTED an exchange whose compare-and-set ran
// before the revocation and whose commit lands after the families' statement keeps its family.

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestReviewX2RevokeGrantsDuringAnExchange: a member's code of app is being exchanged (its
// compare-and-set done, the family inserted, not yet committed: the one statement of issueOne,
// played on a connection of the test's) when RevokeGrants(member, app) starts ("Sign out of
// <app>", withdrawal, an administrator's revocation). Whichever order the two take, no live
// grant may remain once both have committed: exchange first, the revocation revokes its family;
// revocation first, the exchange is refused (the code closed, review s22 X-3). On PostgreSQL the
// families' UPDATE does not see the uncommitted family, then the codes' UPDATE waits for the
// exchange's row lock and skips the code it consumed: the family lives on.
func TestReviewX2RevokeGrantsDuringAnExchange(t *testing.T) {
	revokers := []struct {
		name   string
		revoke func(ctx context.Context, s *postgres.Store, subject, client string) error
	}{
		{"RevokeGrants", func(ctx context.Context, s *postgres.Store, subject, client string) error {
			_, err := s.RevokeGrants(ctx, subject, client)
			return err
		}},
		// "Sign out of <app>" in one transaction (H4, a088cee): the same revokeGrantsCounted.
		{"SignOutOfClient", func(ctx context.Context, s *postgres.Store, subject, client string) error {
			so, ok := any(s).(interface {
				SignOutOfClient(ctx context.Context, subject, clientID string) (int, int, error)
			})
			if !ok {
				return errSkip
			}
			_, _, err := so.SignOutOfClient(ctx, subject, client)
			return err
		}},
	}
	for _, rv := range revokers {
		t.Run(rv.name, func(t *testing.T) { testReviewX2(t, rv.revoke) })
	}
}

type skipErr struct{}

func (skipErr) Error() string { return "skip" }

var errSkip error = skipErr{}

func testReviewX2(t *testing.T, revoke func(ctx context.Context, s *postgres.Store, subject, client string) error) {
	ctx := t.Context()
	if s, _ := openTest(t); revoke(ctx, s, "nobody", "none") == errSkip {
		t.Skip("the store has no SignOutOfClient (H4 not landed)")
	}
	s, dsn := openTest(t)
	h := &ssotest.H{T: t, S: s, Ctx: ctx, Now: ssotest.Now()}

	const subject, client = "alice", "app-x2"
	r := h.NewAuthRequest()
	r.ClientID = client
	ssotest.NoErr(t, s.CreateAuthRequest(ctx, r), "CreateAuthRequest")
	sess := h.CreateSession(subject, client)
	ssotest.NoErr(t, s.CompleteAuthRequest(ctx, r.ID, sso.Completion{Subject: subject, AuthTime: h.Now, AMR: []string{"pwd"},
		SessionID: sess.ID}), "CompleteAuthRequest")
	codeHash := ssotest.RandomID()
	ssotest.NoErr(t, s.SaveCode(ctx, r.ID, codeHash, h.Now.Add(10*time.Minute)), "SaveCode")
	f := h.NewRefreshToken()
	f.Subject, f.ClientID, f.Audience, f.SessionID = subject, client, []string{client}, sess.ID

	conn, err := pgx.Connect(ctx, dsn)
	ssotest.NoErr(t, err, "connect")
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	ssotest.NoErr(t, err, "begin")
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit
	consumed, err := postgres.ReviewX2RedeemInTx(ctx, tx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: r.ID, Family: f}, time.Now())
	ssotest.NoErr(t, err, "the exchange's statement")
	if !consumed {
		t.Fatal("the exchange's compare-and-set consumed nothing")
	}

	done := make(chan error, 1)
	go func() { done <- revoke(ctx, s, subject, client) }()
	returned := false
	for waiting := false; !waiting && !returned; {
		select {
		case err := <-done:
			ssotest.NoErr(t, err, "the revocation")
			returned = true
			continue
		case <-time.After(10 * time.Millisecond):
		}
		// RevokeGrants waits for the exchange's row lock (pg_locks: a lock not granted).
		ssotest.NoErr(t, tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted)`).Scan(&waiting), "pg_locks")
	}
	ssotest.NoErr(t, tx.Commit(ctx), "the exchange's commit")
	if !returned {
		ssotest.NoErr(t, <-done, "the revocation")
	}

	got, err := s.Family(ctx, f.FamilyID)
	switch {
	case err != nil:
		t.Fatalf("Family: %v", err)
	case !got.Revoked:
		t.Fatalf("the family of an exchange that ran with a revocation of (%s, %s) is live after both committed: "+
			"the revocation revoked the families before the exchange committed and then skipped its consumed code", subject, client)
	}
}
