package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestMigrateTogether: replicas opening one new database at the same moment apply each
// migration once (the advisory lock) and all start.
func TestMigrateTogether(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	stores := make([]*postgres.Store, 6)
	for i, err := range ssotest.Parallel(len(stores), func(i int) error {
		var err error
		stores[i], err = postgres.Open(t.Context(), dsn, postgres.WithMaxConns(1))
		return err
	}) {
		ssotest.NoErr(t, err, "Open %d", i)
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var rows, version int
	err := stores[0].Pool().QueryRow(t.Context(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &version)
	ssotest.NoErr(t, err, "read schema_migrations")
	if rows != postgres.Version() || version != postgres.Version() {
		t.Fatalf("schema_migrations has %d rows up to version %d, want %d", rows, version, postgres.Version())
	}
	v, err := stores[1].Migrate(t.Context())
	ssotest.NoErr(t, err, "Migrate again")
	if v != postgres.Version() {
		t.Fatalf("Migrate = %d, want %d", v, postgres.Version())
	}
}

// TestMigrateRefusesNewerSchema: a database a newer binary migrated is not used.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	s, dsn := openTest(t)
	_, err := s.Pool().Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, postgres.Version()+1)
	ssotest.NoErr(t, err, "record a future version")
	_, err = postgres.Open(t.Context(), dsn)
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}

// TestOpenUnreachable: a server that does not answer fails Open with a message naming the
// database, without the password.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://bridge:s3cret-pw@127.0.0.1:1/bridgedb?connect_timeout=5")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "bridgedb") {
		t.Fatalf("error %q: want the database named and no password", err)
	}
}

// TestMigrateSAMLNameIDFormat: version 7 moves the NameID format a waiting SAML sign-in asked
// for from a "t." prefix of its id to a column. A database at version 6 holding a transient
// request ("t." id) and another is opened: the first has the transient format and keeps its id
// (its browser carries it), the other has none, and both complete.
func TestMigrateSAMLNameIDFormat(t *testing.T) {
	ctx := t.Context()
	db, _ := migratedBefore(t, func(v int, q string) bool { return v > 6 })
	exp := time.Now().Add(time.Hour).UnixNano() // the store keeps nanoseconds
	for _, id := range []string{"t.waiting-transient", "waiting-own"} {
		db.exec(`INSERT INTO saml_requests (id, sp, request_id, acs_url, acs_binding, acs_index, relay_state, force_authn,
			is_passive, browser, done, created_at, expires_at) VALUES ($1, 'https://sp.example/', 'id-1', 'https://sp.example/acs',
			'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 0, '', FALSE, FALSE, '', FALSE, 0, $2)`, id, exp)
	}
	db.close()

	s, err := postgres.Open(ctx, db.dsn)
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })
	for id, want := range map[string]string{"t.waiting-transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", "waiting-own": ""} {
		got, err := s.SAMLRequest(ctx, id)
		if err != nil || got.NameIDFormat != want || got.ID != id {
			t.Fatalf("SAMLRequest(%s) after the upgrade = %+v, %v; want the format %q", id, got, err, want)
		}
		ssotest.NoErr(t, s.BindSAMLRequest(ctx, id, "b"), "BindSAMLRequest(%s)", id)
		ssotest.NoErr(t, s.CompleteSAMLRequest(ctx, id, "b"), "CompleteSAMLRequest(%s)", id)
	}
}

// familySplitVersion is the schema version that splits a family's compare-and-set state
// (families) from its grant (family_grants).
const familySplitVersion = 12

// TestMigrateFamilySplit: a database of the schema before familySplitVersion (one 14-column row
// per family) holding families in every state is opened: every family is carried over as it
// was; the live ones are found, rotate (and catch reuse), list and revoke by subject and by
// client; the revoked one stays revoked; Purge removes the expired one with its grant.
func TestMigrateFamilySplit(t *testing.T) {
	ctx := t.Context()
	db, _ := migratedBefore(t, func(v int, q string) bool { return v >= familySplitVersion })
	now := time.Now().Truncate(time.Second).UTC()
	ns := func(t time.Time) int64 { return t.UnixNano() } // the store keeps nanoseconds
	exp := ns(now.Add(time.Hour))
	insert := `INSERT INTO families (family_id, token_hash, generation, client_id, subject, audience, scopes,
		session_id, auth_time, amr, created_at, expires_at, rotated_at, revoked)
		VALUES ($1, $2, $3, $4, $5, '["app"]', '["openid","offline_access"]', 'sess', $6, '["pwd"]', $7, $8, $9, $10)`
	// f1 of alice at app, rotated twice; f2 of alice at other; f3 of bob at app; f4 of bob
	// expired; f5 of carol revoked; f6 of dave at gone (a client deleted below), at generation
	// 0 with a legacy hash.
	db.exec(insert, "f1", "h1c", 2, "app", "alice", ns(now.Add(-time.Hour)), ns(now.Add(-time.Hour)), exp, ns(now.Add(-time.Minute)), false)
	db.exec(insert, "f2", "h2", 0, "other", "alice", ns(now), ns(now.Add(-2*time.Minute)), exp, 0, false)
	db.exec(insert, "f3", "h3", 0, "app", "bob", ns(now), ns(now), exp, 0, false)
	db.exec(insert, "f4", "h4", 0, "app", "bob", ns(now), ns(now), ns(now.Add(-time.Minute)), 0, false)
	db.exec(insert, "f5", "h5", 3, "app", "carol", ns(now), ns(now), exp, ns(now), true)
	db.exec(insert, "f6", "h6", 0, "gone", "dave", ns(now), ns(now), exp, 0, false)
	db.exec(`INSERT INTO legacy_refresh_tokens (hash, family_id, expires_at) VALUES ('h6', 'f6', $1)`, exp)
	db.close()

	s, err := postgres.Open(ctx, db.dsn, postgres.WithClock(func() time.Time { return now }))
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })
	want := &sso.RefreshToken{Hash: "h1c", Generation: 2, FamilyID: "f1", ClientID: "app", Subject: "alice",
		Audience: []string{"app"}, Scopes: []string{"openid", "offline_access"}, SessionID: "sess",
		AuthTime: now.Add(-time.Hour), AMR: []string{"pwd"}, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour),
		RotatedAt: now.Add(-time.Minute)}
	if f, err := s.Family(ctx, "f1"); err != nil || !reflect.DeepEqual(f, want) {
		t.Fatalf("Family(f1) after migration = %+v, %v; want %+v", f, err, want)
	}
	if f, err := s.Family(ctx, "f5"); err != nil || !f.Revoked || f.Generation != 3 || f.Subject != "carol" {
		t.Fatalf("Family(f5) after migration = %+v, %v; want carol's, revoked", f, err)
	}
	if _, err := s.Family(ctx, "f4"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Family(f4), expired: %v; want ErrNotFound", err)
	}
	if f, err := s.LegacyRefreshToken(ctx, "h6"); err != nil || f.FamilyID != "f6" || f.ClientID != "gone" {
		t.Fatalf("LegacyRefreshToken(h6) after migration = %+v, %v", f, err)
	}
	list, err := s.ListRefreshTokens(ctx, "alice", "")
	if err != nil || len(list) != 2 || list[0].FamilyID != "f1" || list[1].FamilyID != "f2" {
		t.Fatalf("ListRefreshTokens(alice) = %+v, %v; want f1 then f2", list, err)
	}
	rot := func(old, new string, gen int64) error {
		return s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: "f1", Generation: gen, OldHash: old, NewHash: new, Now: now}})
	}
	ssotest.NoErr(t, rot("h1c", "h1d", 2), "rotating a migrated family")
	if f, err := s.Family(ctx, "f1"); err != nil || f.Generation != 3 || f.Hash != "h1d" || f.Subject != "alice" {
		t.Fatalf("Family(f1) after rotation = %+v, %v", f, err)
	}
	if err := rot("h1c", "h1x", 2); !errors.Is(err, sso.ErrRefreshReused) {
		t.Fatalf("reusing f1's rotated token: %v; want ErrRefreshReused", err)
	}
	if f, err := s.Family(ctx, "f1"); err != nil || !f.Revoked {
		t.Fatalf("Family(f1) after reuse = %+v, %v; want revoked", f, err)
	}
	if n, err := s.RevokeGrants(ctx, "bob", "app"); err != nil || n != 1 {
		t.Fatalf("RevokeGrants(bob, app) = %d, %v; want 1", n, err)
	}
	if f, err := s.Family(ctx, "f3"); err != nil || !f.Revoked {
		t.Fatalf("Family(f3) after RevokeGrants = %+v, %v; want revoked", f, err)
	}
	ssotest.NoErr(t, s.DeleteClient(ctx, "gone"), "DeleteClient")
	if f, err := s.Family(ctx, "f6"); err != nil || !f.Revoked {
		t.Fatalf("Family(f6) after DeleteClient = %+v, %v; want revoked", f, err)
	}
	if f, err := s.Family(ctx, "f2"); err != nil || f.Revoked {
		t.Fatalf("Family(f2) = %+v, %v; want live", f, err)
	}
	_, err = s.Purge(ctx, now)
	ssotest.NoErr(t, err, "Purge")
	for _, tbl := range []string{"families", "family_grants"} {
		var n, f4 int
		err := s.Pool().QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE family_id = 'f4') FROM `+tbl).Scan(&n, &f4)
		if err != nil || n != 5 || f4 != 0 {
			t.Fatalf("%s after Purge: %d rows (%d of f4), %v; want 5 (0)", tbl, n, f4, err)
		}
	}
}
