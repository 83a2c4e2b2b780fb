package bridge_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// twoReplicas builds two servers over one store, nodes of one in-process cluster.
func twoReplicas(t *testing.T) (a, b *bridge.Server, st *sqlite.Store, hub *cluster.Local) {
	t.Helper()
	ctx := context.Background()
	cfg := bridge.Defaults()
	cfg.Issuer = "http://127.0.0.1:9"
	cfg.DataDir = t.TempDir()
	cfg.Keys.EncryptionKey = base64.StdEncoding.EncodeToString(make([]byte, 32))
	cfg.Keys.Algorithms = []string{"RS256"}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub = cluster.NewLocal(cluster.LocalOptions{Fallback: -1, Logger: quiet})
	t.Cleanup(func() { hub.Close() })
	dir := bridgetest.NewDirectory()
	build := func() *bridge.Server {
		node := hub.Replica()
		t.Cleanup(func() { node.Close() })
		s, err := bridge.New(ctx, bridge.Deps{Config: cfg, Store: st, Directory: dir, SigningKeyEncryption: make([]byte, 32),
			Logger: quiet, Cluster: node})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return build(), build(), st, hub
}

// A client added through the administration of one replica is served by the other at once
// (its client cache is refreshed by the change notification, not by a lookup's version check).
func TestReplicaSeesClientAddedOnAnother(t *testing.T) {
	a, b, _, _ := twoReplicas(t)
	ctx := context.Background()
	if _, err := b.Registry().ClientConfig(ctx, "journal"); err != sso.ErrNotFound {
		t.Fatalf("before: %v", err)
	}
	if _, _, err := a.Admin().CreateClient(ctx, "test", admin.Client{ID: "journal", Name: "Journal",
		RedirectURIs: []string{"https://journal.example.org/cb"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Registry().ClientConfig(ctx, "journal"); err != nil {
		t.Fatalf("the other replica does not serve the new client: %v", err)
	}
	if err := a.Admin().DeleteClient(ctx, "test", "journal"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Registry().ClientConfig(ctx, "journal"); err != sso.ErrNotFound {
		t.Fatalf("the other replica still serves the deleted client: %v", err)
	}
}

// A signing key created elsewhere (another replica's rotation) is published by every replica
// once the keys topic is notified; the replicas agree on the signing key.
func TestReplicaPublishesKeysCreatedElsewhere(t *testing.T) {
	a, b, st, hub := twoReplicas(t)
	ctx := context.Background()
	// Another replica configured with EdDSA creates that key in the shared store.
	other, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{Algorithms: []string{"RS256", "EdDSA"}, EncryptionKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	k, err := other.SigningKey("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(kids(t, b), k.ID()) {
		t.Fatal("published before the notification")
	}
	if err := hub.Notify(ctx, cluster.TopicKeys); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*bridge.Server{"a": a, "b": b} {
		if !slices.Contains(kids(t, s), k.ID()) {
			t.Fatalf("replica %s does not publish the new key", name)
		}
	}
	if !slices.Equal(kids(t, a), kids(t, b)) {
		t.Fatalf("the replicas publish different keys: %v and %v", kids(t, a), kids(t, b))
	}
}

func kids(t *testing.T, s *bridge.Server) []string {
	t.Helper()
	doc, _ := s.Keys().JWKS()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	slices.Sort(out)
	return out
}

// On SQLite (one process, the default) a client added by the CLI (another process: its own
// store handle and node) is served by the running bridge after the node's periodic version
// check, as it was when lookups checked the version themselves.
func TestAppServesClientAddedByCLIOnSQLite(t *testing.T) {
	ctx := context.Background()
	cfg := bridge.Defaults()
	cfg.Issuer = "http://127.0.0.1:9"
	cfg.DataDir = t.TempDir()
	cfg.Keys.EncryptionKey = base64.StdEncoding.EncodeToString(make([]byte, 32))
	quiet := slog.New(slog.DiscardHandler)
	chk, err := cfg.Check(quiet)
	if err != nil {
		t.Fatal(err)
	}
	app, err := bridge.Open(ctx, chk, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	chk2, err := cfg.Check(quiet)
	if err != nil {
		t.Fatal(err)
	}
	cli, closeCLI, err := bridge.OpenAdmin(ctx, chk2)
	if err != nil {
		t.Fatal(err)
	}
	defer closeCLI()
	if _, _, err := cli.CreateClient(ctx, "test", admin.Client{ID: "journal", Name: "Journal",
		RedirectURIs: []string{"https://journal.example.org/cb"}}); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := app.Server.Registry().ClientConfig(ctx, "journal"); err == nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the running bridge does not serve the client the CLI added")
		}
	}
}
