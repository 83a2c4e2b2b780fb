package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestNotFirstWaitsForRemoval: an enrolment without an invitation (ConfirmTOTPNotFirst,
// AddWebAuthnCredentialNotFirst) that starts while the removal of the member's only other
// factor is uncommitted waits for that transaction and, once it commits, finds no factor:
// ErrFirstFactor, nothing stored (review s18 R3-4, the race of conformance
// Factors/NotFirstAfterRemoval played concurrently). At READ COMMITTED a plain EXISTS would
// read the factor from its snapshot and store a first factor without an invitation. The
// removal runs on a connection of the test's, so that the enrolment is seen waiting on it.
func TestNotFirstWaitsForRemoval(t *testing.T) {
	ctx := t.Context()
	s, dsn := openTest(t)
	now := time.Now()
	cred := func(sub string) *store.WebAuthnCredential {
		return &store.WebAuthnCredential{ID: []byte(ssotest.RandomID()), Subject: sub, Name: "Key", Data: []byte("{}"), CreatedAt: now}
	}
	for _, tc := range []struct {
		name   string
		setup  func(sub string) // the member's only factor
		remove string           // the removal of it, $1 the member
		enrol  func(sub string) error
	}{
		{"authenticator app beside the only passkey",
			func(sub string) {
				ssotest.NoErr(t, s.AddWebAuthnCredential(ctx, cred(sub)), "AddWebAuthnCredential")
				ssotest.NoErr(t, s.PutTOTP(ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte("sealed"), CreatedAt: now}), "PutTOTP")
			},
			`DELETE FROM webauthn_credentials WHERE subject = $1`,
			func(sub string) error { return s.ConfirmTOTPNotFirst(ctx, sub, []byte("sealed"), 100, []string{"r"}) }},
		{"passkey beside the only authenticator app",
			func(sub string) {
				ssotest.NoErr(t, s.PutTOTP(ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte("sealed"), CreatedAt: now}), "PutTOTP")
				ssotest.NoErr(t, s.ConfirmTOTP(ctx, sub, []byte("sealed"), 100, nil), "ConfirmTOTP")
			},
			`DELETE FROM totp_factors WHERE subject = $1`,
			func(sub string) error { return s.AddWebAuthnCredentialNotFirst(ctx, cred(sub)) }},
		{"passkey beside the only passkey",
			func(sub string) { ssotest.NoErr(t, s.AddWebAuthnCredential(ctx, cred(sub)), "AddWebAuthnCredential") },
			`DELETE FROM webauthn_credentials WHERE subject = $1`,
			func(sub string) error { return s.AddWebAuthnCredentialNotFirst(ctx, cred(sub)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := ssotest.RandomID()
			tc.setup(sub)
			conn, err := pgx.Connect(ctx, dsn)
			ssotest.NoErr(t, err, "connect")
			defer conn.Close(context.Background())
			tx, err := conn.Begin(ctx)
			ssotest.NoErr(t, err, "begin")
			defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after Commit
			_, err = tx.Exec(ctx, tc.remove, sub)
			ssotest.NoErr(t, err, "the removal")

			done := make(chan error, 1)
			go func() { done <- tc.enrol(sub) }()
			for waiting := false; !waiting; {
				select {
				case err := <-done:
					t.Fatalf("the enrolment returned (%v) while the removal of the only other factor was uncommitted", err)
				case <-time.After(10 * time.Millisecond):
				}
				ssotest.NoErr(t, conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting), "pg_stat_activity")
			}
			ssotest.NoErr(t, tx.Commit(ctx), "the removal's commit")
			ssotest.IsErr(t, <-done, store.ErrFirstFactor, "the enrolment after the removal")
			p, err := s.FactorPresence(ctx, sub)
			ssotest.NoErr(t, err, "FactorPresence")
			if p.TOTP || p.Passkeys {
				t.Fatalf("factors after the removal and the refused enrolment: %+v, want none", p)
			}
		})
	}
}
