package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestMigrateOneUnusedInvite: the migration that allows one unused enrolment invitation per
// member (review s17 R2-4) keeps the newer of two unused ones that the race left a member, and
// every used one and other members' invitations. A database at the version before is upgraded.
func TestMigrateOneUnusedInvite(t *testing.T) {
	ctx := t.Context()
	db, found := migratedBefore(t, func(v int, q string) bool { return strings.Contains(q, "enrolment_invites_unused") })
	if !found {
		t.Fatal("no migration indexes one unused enrolment invitation per member")
	}
	now := time.Now().Truncate(time.Second).UTC()
	for _, r := range []struct {
		hash, subject string
		created       time.Duration
		used          bool
	}{{"older", "alice", 0, false}, {"newer", "alice", time.Second, false}, {"spent", "alice", -time.Hour, true}, {"bobs", "bob", 0, false}} {
		used := int64(0)
		if r.used {
			used = now.UnixNano()
		}
		db.exec(`INSERT INTO enrolment_invites (hash, subject, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5)`,
			r.hash, r.subject, now.Add(r.created).UnixNano(), now.Add(time.Hour).UnixNano(), used)
	}
	db.close()

	s, err := postgres.Open(ctx, db.dsn, postgres.WithClock(func() time.Time { return now }))
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })
	ssotest.IsErr(t, s.EnrolmentInviteUsable(ctx, "alice", "older", now), sso.ErrNotFound, "the older of two unused")
	ssotest.NoErr(t, s.EnrolmentInviteUsable(ctx, "alice", "newer", now), "the newer of two unused")
	ssotest.NoErr(t, s.EnrolmentInviteUsable(ctx, "bob", "bobs", now), "another member's")
	ssotest.IsErr(t, s.EnrolmentInviteUsable(ctx, "alice", "spent", now), sso.ErrNotFound, "a used one")
}
