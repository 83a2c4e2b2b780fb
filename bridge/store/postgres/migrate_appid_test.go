package postgres_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestMigrateSAMLAppID: the migration that keeps a SAML SP's id in a column (app_id) fills it
// from the settings of the SPs registered before it (SQLite's TestMigrateSAMLAppID): the SP
// lists with its id, and a client with that id is refused after the upgrade.
func TestMigrateSAMLAppID(t *testing.T) {
	ctx := t.Context()
	db, found := migratedBefore(t, func(v int, q string) bool { return strings.Contains(q, "ADD COLUMN app_id") })
	if !found {
		t.Fatal("no migration adds saml_service_providers.app_id")
	}
	db.exec(`INSERT INTO saml_service_providers (entity_id, settings, metadata, created_at) VALUES ('https://lms.example/sp', $1, '<md/>', 0)`,
		[]byte(`{"id":"lms","name":"Learning Portal"}`))
	db.close()

	s, err := postgres.Open(ctx, db.dsn)
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })
	sps, err := s.SAMLServiceProviders(ctx)
	if err != nil || len(sps) != 1 || sps[0].ID != "lms" {
		t.Fatalf("SAMLServiceProviders after the upgrade = %+v, %v; want lms with its id", sps, err)
	}
	if err := s.CreateClient(ctx, &sso.StoredClient{ID: "lms", Config: []byte("{}")}); !errors.Is(err, store.ErrAppIDTaken) {
		t.Fatalf("CreateClient(lms) after the upgrade: %v, want ErrAppIDTaken", err)
	}
}
