package handoff

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/web/logout"
	"github.com/ssobridge/ssobridge/sso"
)

// TestTicketPurpose: a hand-off ticket opens as one until it expires; a logout ticket sealed
// under the same key never opens as a hand-off ticket, nor a hand-off ticket as a logout one.
func TestTicketPurpose(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := func() time.Time { return now }
	crypto, err := sso.NewCrypto([32]byte{3}) // the provider's: authenticated
	if err != nil {
		t.Fatal(err)
	}
	sealer := identity.NewSealer(crypto)
	h := &Handler{Sealer: sealer, Now: clock}
	out := &logout.Handler{Sealer: sealer, Now: clock}

	raw, err := sealer.Seal(identity.PurposeHandoff, handoffTicket{MemberKey: "K", Nonce: "n", Expires: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if tk, err := h.openHandoff(raw); err != nil || tk.MemberKey != "K" {
		t.Fatalf("hand-off ticket does not open as one: %v", err)
	}
	if _, err := out.OpenTicket(raw); err == nil {
		t.Fatal("a hand-off ticket opened as a logout ticket")
	}
	lo, err := out.SealTicket(logout.Ticket{Redirect: "/logout/done"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.openHandoff(lo); err == nil {
		t.Fatal("a logout ticket opened as a hand-off ticket")
	}
	h.Now = func() time.Time { return now.Add(2 * time.Minute) }
	if _, err := h.openHandoff(raw); err == nil {
		t.Fatal("an expired hand-off ticket opened")
	}
}
