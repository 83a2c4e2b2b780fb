package sso_test

import (
	"context"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// Two replicas share one key store: what one rotates, the other publishes after Reload (and
// signs with once it is current).
func TestKeyManagerReloadSeesAnotherReplicasKeys(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	cfg := sso.KeyConfig{Algorithms: []string{"RS256"}, RotateEvery: 48 * time.Hour, Prepublish: 24 * time.Hour,
		MaxTokenLifetime: time.Hour, EncryptionKey: make([]byte, 32)}
	a, err := sso.NewKeyManager(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sso.NewKeyManager(ctx, st, cfg) // finds a's key: creates none
	if err != nil {
		t.Fatal(err)
	}
	if len(st.keys) != 1 {
		t.Fatalf("the second replica created keys: %d in the store", len(st.keys))
	}
	clock := time.Now().Add(25 * time.Hour)
	sso.SetKeyClock(a, func() time.Time { return clock })
	sso.SetKeyClock(b, func() time.Time { return clock })
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	_, before := b.JWKS()
	if len(b.PublicKeys()) != 1 {
		t.Fatal("b published a key it was not told about")
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(b.PublicKeys()); n != 2 {
		t.Fatalf("b publishes %d keys after Reload, want 2", n)
	}
	if _, after := b.JWKS(); after == before {
		t.Fatal("JWKS version did not move on Reload")
	}
	if len(st.keys) != 2 {
		t.Fatalf("Reload created keys: %d in the store", len(st.keys))
	}
	clock = clock.Add(24 * time.Hour)
	ka, _ := a.SigningKey("RS256")
	kb, _ := b.SigningKey("RS256")
	if ka.ID() != kb.ID() || ka.ID() != st.keys[1].ID {
		t.Fatalf("replicas sign with %s and %s, want the new key %s", ka.ID(), kb.ID(), st.keys[1].ID)
	}

}

// With checkEvery 0 the registry reads memory only: a client created in the store is served
// after Refresh, not before.
func TestRegistryRefresh(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	reg, err := sso.NewRegistry(ctx, st, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := &sso.ClientConfig{ID: "portal", Name: "Portal", SecretHash: sso.HashSecret("s"), RedirectURIs: []string{"https://portal.example.org/cb"}}
	c.FillDefaults()
	sc, err := sso.EncodeClient(c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ClientConfig(ctx, "portal"); err != sso.ErrNotFound {
		t.Fatalf("before Refresh: %v, want ErrNotFound (no store read on lookup)", err)
	}
	if err := reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ClientConfig(ctx, "portal"); err != nil {
		t.Fatalf("after Refresh: %v", err)
	}
}
