package sqlite

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestMigrateSAMLAppID: the migration that keeps a SAML SP's id in a column (app_id) fills it
// from the settings of the SPs registered before it, so that they keep their id against a
// client registered after the upgrade. A database at the version before holding an SP "lms"
// is opened: the SP lists with its id, and a client "lms" is refused.
func TestMigrateSAMLAppID(t *testing.T) {
	ctx := t.Context()
	before := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "ADD COLUMN app_id") })
	if before < 0 {
		t.Fatal("no migration adds saml_service_providers.app_id")
	}
	path := filepath.Join(t.TempDir(), "before.db")
	db, exec := openAtVersion(t, path, before)
	now := time.Now().Truncate(time.Second)
	exec(`INSERT INTO saml_service_providers (entity_id, settings, metadata, created_at) VALUES ('https://lms.example/sp', ?, '<md/>', ?)`,
		[]byte(`{"id":"lms","name":"Learning Portal"}`), ts(now))
	exec(`INSERT INTO saml_service_providers (entity_id, settings, metadata, created_at) VALUES ('https://odd.example/sp', ?, '<md/>', ?)`,
		[]byte(`not json`), ts(now))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, path, WithClock(func() time.Time { return now }))
	sps, err := s.SAMLServiceProviders(ctx)
	if err != nil || len(sps) != 2 || sps[0].ID != "lms" || sps[1].ID != "" {
		t.Fatalf("SAMLServiceProviders after the upgrade = %+v, %v; want lms with its id", sps, err)
	}
	err = s.CreateClient(ctx, &sso.StoredClient{ID: "lms", Config: []byte("{}")})
	if !errors.Is(err, store.ErrAppIDTaken) {
		t.Fatalf("CreateClient(lms) after the upgrade: %v, want ErrAppIDTaken", err)
	}
}
