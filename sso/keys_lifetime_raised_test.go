package sso_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestRetiredKeyOutlivesTokensAfterLifetimeRaised: an operator raises the token lifetimes
// (tokens.access_token_lifetime: 15m -> 8h for JWT access tokens, say) and restarts. A token
// signed with the current key just before it stops signing is valid for the new lifetime, so
// the key must stay in JWKS that long; its retirement was fixed when the key was made, with
// the old lifetime.
func TestRetiredKeyOutlivesTokensAfterLifetimeRaised(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	kek := make([]byte, 32)
	cfg := sso.KeyConfig{Algorithms: []string{"RS256"}, RotateEvery: 48 * time.Hour, Prepublish: 24 * time.Hour,
		MaxTokenLifetime: time.Hour + 15*time.Minute, EncryptionKey: kek}
	m, err := sso.NewKeyManager(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.SigningKey("RS256")
	first := k.ID()
	// Restart with 8 h tokens (MaxTokenLifetime is the longest lifetime plus an hour).
	cfg.MaxTokenLifetime = 9 * time.Hour
	start := time.Now()
	clock := start
	m2, err := sso.NewKeyManager(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sso.SetKeyClock(m2, func() time.Time { return clock })
	// Just before the first key stops signing, it signs an 8-hour token.
	clock = start.Add(48*time.Hour - time.Minute)
	if err := m2.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _ := m2.SigningKey("RS256"); k.ID() != first {
		t.Fatalf("key %s signs, want the first %s", k.ID(), first)
	}
	// Four hours later the token is still valid: its key must still be published.
	clock = clock.Add(4 * time.Hour)
	if err := m2.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	jwks, _ := m2.JWKS()
	var set struct{ Keys []struct{ Kid string } }
	_ = json.Unmarshal(jwks, &set)
	for _, k := range set.Keys {
		if k.Kid == first {
			return
		}
	}
	t.Fatalf("the key of a token valid for 4 more hours left JWKS (published: %v)", set.Keys)
}

// TestKeyRetirementStoredOnlyLater: a manager under a raised MaxTokenLifetime writes the later
// retirement of a live key back to the store (so that Purge keeps it and a replica or a restart
// under the old configuration publishes it as long); one under a lowered lifetime leaves the
// stored retirement alone and keeps publishing the key until then.
func TestKeyRetirementStoredOnlyLater(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	cfg := sso.KeyConfig{Algorithms: []string{"RS256"}, RotateEvery: 48 * time.Hour, Prepublish: 24 * time.Hour,
		MaxTokenLifetime: 2 * time.Hour, EncryptionKey: make([]byte, 32)}
	if _, err := sso.NewKeyManager(ctx, st, cfg); err != nil {
		t.Fatal(err)
	}
	stored := func() *sso.StoredKey {
		t.Helper()
		l, _ := st.SigningKeys(ctx)
		if len(l) != 1 {
			t.Fatalf("%d keys stored, want 1", len(l))
		}
		return l[0]
	}
	first := stored()
	if want := first.SignUntil.Add(2 * time.Hour); !first.ExpiresAt.Equal(want) {
		t.Fatalf("new key expires %v, want sign_until + 2h %v", first.ExpiresAt, want)
	}
	for _, step := range []struct {
		lifetime time.Duration
		want     time.Duration // stored expires_at - sign_until
	}{
		{9 * time.Hour, 9 * time.Hour},   // raised: written back
		{time.Hour, 9 * time.Hour},       // lowered: never shortened
		{9 * time.Hour, 9 * time.Hour},   // the same again: unchanged
		{10 * time.Hour, 10 * time.Hour}, // raised again
	} {
		cfg.MaxTokenLifetime = step.lifetime
		m, err := sso.NewKeyManager(ctx, st, cfg)
		if err != nil {
			t.Fatal(err)
		}
		k := stored()
		if k.ID != first.ID {
			t.Fatalf("key %s stored, want %s", k.ID, first.ID)
		}
		if got := k.ExpiresAt.Sub(k.SignUntil); got != step.want {
			t.Fatalf("lifetime %v: stored retirement sign_until + %v, want + %v", step.lifetime, got, step.want)
		}
		// Published until that retirement, not after.
		for _, c := range []struct {
			at  time.Time
			pub bool
		}{{k.ExpiresAt.Add(-time.Minute), true}, {k.ExpiresAt, false}} {
			sso.SetKeyClock(m, func() time.Time { return c.at })
			if err := m.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			jwks, _ := m.JWKS()
			if got := strings.Contains(string(jwks), `"`+first.ID+`"`); got != c.pub {
				t.Fatalf("lifetime %v: key published at retirement%+v = %v, want %v", step.lifetime,
					c.at.Sub(k.ExpiresAt), got, c.pub)
			}
		}
	}
}
