package logout

import (
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/identity"
)

// TestTicketLifetime: a logout ticket opens until ticketLifetime has passed, and never once
// tampered with or sealed for another purpose.
func TestTicketLifetime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sealer := identity.NewSealer(op.NewAESCrypto([32]byte{9}))
	h := &Handler{Sealer: sealer, Now: func() time.Time { return now }}
	raw, err := h.SealTicket(Ticket{Redirect: "https://app.example/bye", ClientID: "app"})
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(raw)
	tampered[len(tampered)/2] ^= 1 // another base64 character: a different ciphertext
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
		{"tampered", string(tampered), 0, false},
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
}
