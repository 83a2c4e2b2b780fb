package bridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestSecretsSealedInPlace: an installation whose secrets an earlier version stored in the
// clear keeps their values (subjects, cookies, tickets stay valid) while they are sealed under
// the key-encryption key at start-up; the next start opens them; another key is refused.
func TestSecretsSealedInPlace(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := map[string][]byte{}
	for _, name := range []string{secretSubject, secretCookieMAC, secretCookieEnc, secretOpCrypto, secretRotate, secretCSRF} {
		old[name] = identity.RandomBytes(32)
		if _, err := st.EnsureSecret(ctx, name, old[name]); err != nil {
			t.Fatal(err)
		}
	}
	kek := bytes.Repeat([]byte{7}, 32)
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	start := func(kek []byte) (*Server, error) {
		return New(ctx, Deps{Config: cfg, Store: st, Directory: bridgetest.NewDirectory(),
			SigningKeyEncryption: kek, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	if _, err := start(kek); err != nil {
		t.Fatal(err)
	}
	for name, want := range old {
		stored, err := st.EnsureSecret(ctx, name, []byte("unused"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, want) {
			t.Fatalf("%s not sealed: %x", name, stored)
		}
		got, err := identity.OpenSecret(ctx, st, kek, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after sealing: %x %v, want the old value %x", name, got, err, want)
		}
	}
	// The subject of a member is the one the old key gives.
	s, err := start(kek)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	if got, want := s.admin.Subjects.Subject("K-1"), identity.NewSubjectMapper(old[secretSubject], st).Subject("K-1"); got != want {
		t.Fatalf("subject changed: %q, want %q", got, want)
	}
	if _, err := start(bytes.Repeat([]byte{8}, 32)); !errors.Is(err, identity.ErrSecretKey) {
		t.Fatalf("another key-encryption key: %v", err)
	}
}
