package logout

import (
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/sso"
)

// TestTicketLifetime: a logout ticket opens until ticketLifetime has passed, and never once
// tampered with or sealed for another purpose.
func TestTicketLifetime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	crypto, err := sso.NewCrypto([32]byte{9}) // the provider's: authenticated
	if err != nil {
		t.Fatal(err)
	}
	sealer := identity.NewSealer(crypto)
	h := &Handler{Sealer: sealer, Now: func() time.Time { return now }}
	raw, err := h.SealTicket(Ticket{Redirect: "https://app.example/bye", ClientID: "app"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sealer.Seal(identity.PurposeHandoff, Ticket{Redirect: "https://evil.example/"})
	for _, tc := range []struct {
		name  string
		raw   string
		after time.Duration
		ok    bool
	}{
		{"fresh", raw, 0, true},
		{"just before expiry", raw, ticketLifetime - time.Second, true},
		{"expired", raw, ticketLifetime + time.Second, false},
		{"other purpose", other, 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.Now = func() time.Time { return now.Add(tc.after) }
			got, err := h.OpenTicket(tc.raw)
			if (err == nil) != tc.ok {
				t.Fatalf("OpenTicket: %v", err)
			}
			if tc.ok && (got.Redirect != "https://app.example/bye" || got.ClientID != "app") {
				t.Fatalf("ticket %+v", got)
			}
		})
	}
	// Tampered: a ticket with any one character changed (to another base64url character, so
	// the text still decodes) never opens. The sealer's crypto must be authenticated.
	h.Now = func() time.Time { return now }
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range raw {
		tampered := []byte(raw)
		tampered[i] = alphabet[(strings.IndexByte(alphabet, raw[i])+1)%len(alphabet)]
		if got, err := h.OpenTicket(string(tampered)); err == nil {
			t.Fatalf("ticket tampered at %d/%d opened: %+v", i, len(raw), got)
		}
	}
}
