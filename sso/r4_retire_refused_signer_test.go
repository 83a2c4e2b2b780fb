package sso_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestR4RetireKeySigningInPlaceOfRefused (review s27 R4-1): under keys.rsa_signer: openssl a
// later RS256 key this replica's libcrypto refused (another replica's rotation) is passed over
// here, and the key before it goes on signing. In the store's view the refused key is the one
// that signs, so a withdrawal of the key that really signs here made no successor: the
// withdrawal succeeded and left this replica with no RS256 key that signs (R1-4's outcome by
// another road). A withdrawal must either leave a key that signs here or change nothing.
func TestR4RetireKeySigningInPlaceOfRefused(t *testing.T) {
	lib := sso.OpenSSLForTest(t)
	ctx := context.Background()
	st := &memKeys{}
	kek := make([]byte, 32)
	m, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: kek, OpenSSL: lib, RequireOpenSSL: true,
		RotateEvery: 30 * 24 * time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	first, err := m.SigningKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Hour)
	sso.SetKeyClock(m, func() time.Time { return now })
	refused, _ := libcryptoRefusedKey(t, st, kek, now.Add(-time.Minute))
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if k, err := m.SigningKey("RS256"); err != nil || k.ID() != first.ID() {
		t.Fatalf("before the withdrawal: want %s signing in place of the refused %s, got %v", first.ID(), refused, err)
	}
	succ, err := m.Retire(ctx, first.ID())
	if err != nil {
		// Refused: nothing may have changed.
		if k, serr := m.SigningKey("RS256"); serr != nil || k.ID() != first.ID() {
			t.Fatalf("Retire refused (%v), yet %s no longer signs: %v", err, first.ID(), serr)
		}
		return
	}
	k, err := m.SigningKey("RS256")
	if err != nil {
		t.Fatalf("%s withdrawn (successor %+v), and no RS256 key signs here any more: %v", first.ID(), succ, err)
	}
	if k.ID() == first.ID() || k.ID() == refused {
		t.Fatalf("after the withdrawal of %s, %s signs", first.ID(), k.ID())
	}
}
