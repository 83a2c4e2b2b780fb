package sso_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestKeyManagerRetire (review s12 W6): a suspect signing key is withdrawn at once: a successor
// of its algorithm signs from now, the key leaves JWKS (and so the verification keys) at once,
// the lease holder's next rotation (even under a raised token lifetime, which extends keys)
// never brings it back, and a key that does not sign now is withdrawn without a successor.
func TestKeyManagerRetire(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	cfg := sso.KeyConfig{Algorithms: []string{"RS256", "ES256"}, RotateEvery: 48 * time.Hour,
		Prepublish: 24 * time.Hour, MaxTokenLifetime: time.Hour, EncryptionKey: make([]byte, 32)}
	m, err := sso.NewKeyManager(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kid := func(alg string) string {
		t.Helper()
		k, err := m.SigningKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID()
	}
	published := func() []string {
		var out []string
		for _, k := range m.PublicKeys() {
			out = append(out, k.ID())
		}
		return out
	}
	suspect, es := kid("RS256"), kid("ES256")
	_, version := m.JWKS()

	successor, err := m.Retire(ctx, suspect)
	if err != nil {
		t.Fatalf("Retire(the RS256 key that signs): %v", err)
	}
	if successor == nil || successor.Algorithm != "RS256" || !successor.Signing || successor.ID == suspect {
		t.Fatalf("Retire(the RS256 key that signs): successor %+v, want a new RS256 key that signs", successor)
	}
	if got := kid("RS256"); got != successor.ID {
		t.Fatalf("RS256 signs with %s after the retirement, want the successor %s", got, successor.ID)
	}
	if kid("ES256") != es {
		t.Fatal("retiring the RS256 key changed the ES256 key")
	}
	if slices.Contains(published(), suspect) {
		t.Fatalf("the withdrawn key is still published: %v", published())
	}
	if _, v := m.JWKS(); v == version {
		t.Fatal("JWKS version unchanged by the retirement (caches would keep the withdrawn key)")
	}
	list, err := m.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].Signing || !list[1].Signing || slices.ContainsFunc(list, func(k sso.KeyInfo) bool { return k.ID == suspect }) {
		t.Fatalf("Keys after the retirement = %+v, want the ES256 key and the successor, both signing", list)
	}

	// Another replica (a raised token lifetime: it extends every live key) rotates: the
	// withdrawn key stays gone.
	longer := cfg
	longer.MaxTokenLifetime = 72 * time.Hour
	other, err := sso.NewKeyManager(ctx, st, longer)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range other.PublicKeys() {
		if k.ID() == suspect {
			t.Fatal("a replica's rotation published the withdrawn key again")
		}
	}
	stored, _ := st.SigningKeys(ctx)
	for _, k := range stored {
		if k.ID == suspect && k.ExpiresAt.After(time.Now()) {
			t.Fatalf("a replica's rotation extended the withdrawn key to %v", k.ExpiresAt)
		}
	}

	// 25 hours later the next ES256 key is published ahead of its turn; withdrawing it leaves
	// the current one signing, with no successor.
	clock := time.Now().Add(25 * time.Hour)
	sso.SetKeyClock(m, func() time.Time { return clock })
	if err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	var next string
	list, _ = m.Keys(ctx)
	for _, k := range list {
		if k.Algorithm == "ES256" && !k.Signing {
			next = k.ID
		}
	}
	if next == "" {
		t.Fatalf("no ES256 key published ahead of its turn: %+v", list)
	}
	if s, err := m.Retire(ctx, next); err != nil || s != nil {
		t.Fatalf("Retire(a key not signing yet) = %+v, %v; want no successor", s, err)
	}
	if kid("ES256") != es || slices.Contains(published(), next) {
		t.Fatal("withdrawing the next key changed the signing key or left it published")
	}
	// ... and its replacement is published at once (Retire rotates, end-of-session review s13
	// RV3-2): else the current key could stop signing before the lease holder's next rotation,
	// leaving ES256 without a key.
	list, _ = m.Keys(ctx)
	replacement := ""
	for _, k := range list {
		if k.Algorithm == "ES256" && !k.Signing && k.ID != next {
			replacement = k.ID
		}
	}
	if replacement == "" || !slices.Contains(published(), replacement) {
		t.Fatalf("no replacement published after withdrawing the next ES256 key: %+v", list)
	}

	// A process whose clock is behind the withdrawing one's (another replica, the CLI on another
	// host) lists no withdrawn key either (end-of-session review s14).
	sso.SetKeyClock(m, func() time.Time { return time.Now().Add(-time.Hour) })
	list, _ = m.Keys(ctx)
	for _, k := range list {
		if k.ID == suspect || k.ID == next {
			t.Fatalf("a clock an hour behind lists the withdrawn key %s: %+v", k.ID, list)
		}
	}
	sso.SetKeyClock(m, func() time.Time { return clock })

	if _, err := m.Retire(ctx, suspect); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Retire(withdrawn already) = %v, want ErrNotFound", err)
	}
	if _, err := m.Retire(ctx, "no-such-key"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Retire(unknown) = %v, want ErrNotFound", err)
	}
}

// TestKeyManagerRetireRefusesAnotherKEK: a manager whose key-encryption key does not open the
// stored keys (a CLI run with another configuration) withdraws nothing: the successor it would
// seal could not be loaded by the servers, which would then keep publishing the withdrawn key.
func TestKeyManagerRetireRefusesAnotherKEK(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	m, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.SigningKey("RS256")
	other, err := sso.OpenKeyManager(st, sso.KeyConfig{EncryptionKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Retire(ctx, k.ID()); err == nil {
		t.Fatal("a manager with another key-encryption key withdrew the key")
	}
	if list, _ := m.Keys(ctx); len(list) != 1 || list[0].ID != k.ID() || !list[0].Signing {
		t.Fatalf("keys after the refused withdrawal: %+v", list)
	}
}
