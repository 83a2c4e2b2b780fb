package bridge

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/web/logout"
)

// TestSealedValuesKeepTheirPurpose: the tickets' sealer, built before the provider from the
// installation's op crypto secret, shares the provider's key (what the provider's crypto seals
// opens with it) and keeps its purpose (an op ciphertext never opens as a logout ticket).
func TestSealedValuesKeepTheirPurpose(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	kek := make([]byte, 32)
	s, err := New(ctx, Deps{Config: cfg, Store: st, Directory: bridgetest.NewDirectory(),
		SigningKeyEncryption: kek, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := identity.OpenSecret(ctx, st, kek, secretOpCrypto)
	if err != nil {
		t.Fatal(err)
	}
	var key [32]byte
	copy(key[:], secret)
	sealer, err := ticketSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	out := &logout.Handler{Sealer: sealer, Now: time.Now}
	ticket, err := out.SealTicket(logout.Ticket{Redirect: "/logout/done"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.OpenTicket(ticket); err != nil {
		t.Fatalf("logout ticket does not open as one: %v", err)
	}
	// The same key as the provider's: a ticket sealed through the provider's crypto opens.
	viaProvider, err := identity.NewSealer(s.provider.Crypto()).Seal(identity.PurposeLogout, logout.Ticket{Redirect: "/logout/done", Expires: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.OpenTicket(viaProvider); err != nil {
		t.Fatalf("the tickets' key is not the provider's: %v", err)
	}
	// Logout and hand-off tickets keep apart: bridge/web/handoff TestTicketPurpose.
	code, _ := s.provider.Crypto().Encrypt("auth-request-id")
	if _, err := out.OpenTicket(code); err == nil {
		t.Fatal("an op ciphertext opened as a logout ticket")
	}
}
