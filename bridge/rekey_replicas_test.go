package bridge_test

import (
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/sso"
)

// TestRekeyRefusedWhileAReplicaRuns (end-of-session review s13 RV3-3): on PostgreSQL, where
// replicas share no serve lock, `store rekey` refuses while a server runs on the store (one of
// them holds the key-rotation lease) and changes nothing: a replica still running would seal
// what it writes next under the old key, a mixed store no second rekey repairs. Once no server
// holds the lease it goes through.
func TestRekeyRefusedWhileAReplicaRuns(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	oldKEK, newKEK := identity.RandomBytes(32), identity.RandomBytes(32)
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: oldKEK, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	var cfg bridge.Config
	cfg.DataDir = t.TempDir()
	cfg.Store.Type, cfg.Store.DSN = "postgres", dsn
	cfg.Keys.EncryptionKey = base64.StdEncoding.EncodeToString(newKEK)

	replica, err := cluster.ForStore(ctx, cfg.StoreConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	release, ok, err := replica.TryLock(ctx, "keys.rotation") // what a running server's leader holds
	if err != nil || !ok {
		t.Fatalf("the replica's lease: %v %v", ok, err)
	}
	if _, err := bridge.RekeyStore(ctx, cfg, oldKEK); err == nil || !strings.Contains(err.Error(), "a server runs on this store") {
		t.Fatalf("rekey while a replica holds the key-rotation lease: %v, want it refused", err)
	}
	if _, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: oldKEK, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatalf("a refused rekey changed the store: %v", err)
	}
	release()
	if n, err := bridge.RekeyStore(ctx, cfg, oldKEK); err != nil || n == 0 {
		t.Fatalf("rekey with no server running: %d values, %v", n, err)
	}
	// RV3-8: the change of keys.encryption_key is audited, once (the refused one is not).
	events, err := st.AuditEvents(ctx, store.AuditFilter{Event: "store.rekeyed", Limit: 10})
	if err != nil || len(events) != 1 || !strings.HasPrefix(events[0].Detail, "by cli: ") {
		t.Fatalf("store.rekeyed audit lines: %+v %v, want one", events, err)
	}
}
