package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestKeyRetireRotationRace: a withdrawal that starts while a rotation holds its lock on
// signing_keys (AddSigningKeySuccessor's SHARE ROW EXCLUSIVE, from its check to its commit)
// waits for the rotation's commit, then withdraws the key and stores its successor: the order
// of review s15 X's note ("a rotation committed just before a withdrawal"), which ends as the
// two run one after the other do, with the rotation's key published ahead beside the
// successor, on every store (conformance Keys/RetireRotationRace). The rotation is played on a
// connection of the test's, so that the withdrawal is seen waiting on its lock.
func TestKeyRetireRotationRace(t *testing.T) {
	ctx := t.Context()
	s, dsn := openTest(t)
	now := time.Now()
	k := ssotest.NewKey(now.Add(-time.Hour))
	k.SignUntil = now.Add(time.Hour)
	ssotest.NoErr(t, s.AddSigningKey(ctx, k), "AddSigningKey")
	successor, next := ssotest.NewKey(now.Add(-time.Minute)), ssotest.NewKey(k.SignUntil)

	rot, err := pgx.Connect(ctx, dsn)
	ssotest.NoErr(t, err, "connect")
	defer rot.Close(ctx)
	tx, err := rot.Begin(ctx)
	ssotest.NoErr(t, err, "begin")
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit
	_, err = tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`)
	ssotest.NoErr(t, err, "LOCK TABLE")
	_, err = tx.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, public_jwk, private_enc, created_at, sign_until, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, next.ID, next.Algorithm, next.PublicJWK, next.PrivateEnc,
		next.CreatedAt.UnixNano(), next.SignUntil.UnixNano(), next.ExpiresAt.UnixNano())
	ssotest.NoErr(t, err, "the rotation's INSERT")

	done := make(chan error, 1)
	go func() { done <- s.RetireSigningKey(ctx, k.ID, successor) }()
	for waiting := false; !waiting; {
		select {
		case err := <-done:
			t.Fatalf("RetireSigningKey returned (%v) while a rotation held the table", err)
		case <-time.After(10 * time.Millisecond):
		}
		ssotest.NoErr(t, rot.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
			WHERE c.relname = 'signing_keys' AND NOT l.granted)`).Scan(&waiting), "pg_locks")
	}
	ssotest.NoErr(t, tx.Commit(ctx), "the rotation's commit")
	ssotest.NoErr(t, <-done, "RetireSigningKey after the rotation")

	l, err := s.SigningKeys(ctx)
	ssotest.NoErr(t, err, "SigningKeys")
	var got []string
	for _, sk := range l {
		got = append(got, sk.ID)
	}
	want := []string{successor.ID, next.ID}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("keys after a rotation then a withdrawal: %q, want the successor and the rotation's key %q", got, want)
	}
}
