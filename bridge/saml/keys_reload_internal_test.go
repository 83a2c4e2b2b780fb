package saml

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestKeyRingReloadKeepsOpenedKeys (closing note s15, K): Reload, which runs on every change
// notification and every periodic fallback, keeps the keys it holds instead of decrypting and
// parsing each again; a key another replica withdrew leaves, and its successor is opened.
func TestKeyRingReloadKeepsOpenedKeys(t *testing.T) {
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	cfg := config.SAMLConfig{KeyRotateEvery: 100 * 24 * time.Hour, KeyOverlap: 10 * 24 * time.Hour}
	path := filepath.Join(t.TempDir(), "t.db")
	ring, _ := retireRingAt(t, path, &now, cfg)
	other, _ := retireRingAt(t, path, &now, cfg) // another replica on the same database
	held := slices.Clone(ring.keys)
	if len(held) != 1 {
		t.Fatalf("%d keys after NewKeyRing, want 1", len(held))
	}
	for range 3 {
		if err := ring.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(ring.keys, held) {
		t.Fatalf("Reload with nothing changed opened the keys again: %p, held %p", ring.keys, held)
	}

	succ, err := other.Retire(ctx, held[0].id)
	if err != nil || succ == nil {
		t.Fatalf("Retire on the other replica: %+v, %v", succ, err)
	}
	if err := ring.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if len(ring.keys) != 1 || ring.keys[0].id != succ.ID || ring.keys[0] == held[0] {
		t.Fatalf("keys after the other replica's withdrawal: %v, want its successor %s alone", ring.keys, succ.ID)
	}
	cur, _, err := ring.Signing()
	if err != nil || cur.id != succ.ID || !bytes.Equal(cur.cert.Raw, other.keys[0].cert.Raw) {
		t.Fatalf("Signing after the withdrawal: %v, %v; want the successor", cur, err)
	}
}

// BenchmarkKeyRingReload is one Reload of a ring holding its one key, nothing changed (what
// every periodic fallback costs).
func BenchmarkKeyRingReload(b *testing.B) {
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	cfg := config.SAMLConfig{KeyRotateEvery: 100 * 24 * time.Hour, KeyOverlap: 10 * 24 * time.Hour}
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "t.db"), sqlite.WithClock(clock))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ring, err := NewKeyRing(b.Context(), st, bytes.Repeat([]byte{7}, 32), cfg, "sso.example.org", quiet, clock)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := ring.Reload(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
