package bridge

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/web/logout"
)

func TestSealedValuesKeepTheirPurpose(t *testing.T) {
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	s, err := New(context.Background(), Deps{Config: cfg, Store: st, Directory: bridgetest.NewDirectory(),
		SigningKeyEncryption: make([]byte, 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := s.logout.SealTicket(logout.Ticket{Redirect: "/logout/done"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.logout.OpenTicket(ticket); err != nil {
		t.Fatalf("logout ticket does not open as one: %v", err)
	}
	// Logout and hand-off tickets keep apart: bridge/web/handoff TestTicketPurpose.
	code, _ := s.provider.Crypto().Encrypt("auth-request-id")
	if _, err := s.logout.OpenTicket(code); err == nil {
		t.Fatal("an op ciphertext opened as a logout ticket")
	}
}
