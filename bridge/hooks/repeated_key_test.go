package hooks_test

import (
	"context"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestRepeatedKeyedByAddress (review s23 X-3): a repeated event (token.refresh_denied) is bounded
// per member, app, reason and address: the same refusal from a second address (a copied refresh
// token tried elsewhere) is not folded into the first address's row of the minute; addresses of
// one IPv6 /64 are one.
func TestRepeatedKeyedByAddress(t *testing.T) {
	keys := map[string]bool{}
	h := &hooks.Hooks{Repeated: func(_ context.Context, key string, _ *store.AuditEvent) { keys[key] = true }}
	for _, ip := range []string{"192.0.2.5", "192.0.2.5", "2001:db8:1:2::1", "2001:db8:1:2::99"} {
		h.Event(hooks.WithProtocolRequest(t.Context(), ip), "token.refresh_denied", "sub-1", "web", "member not allowed")
	}
	if len(keys) != 2 {
		t.Fatalf("keys %v; want two: one per address (/64 for IPv6)", keys)
	}
	h.Event(hooks.WithProtocolRequest(t.Context(), "198.51.100.7"), "token.refresh_denied", "sub-1", "web", "member not allowed")
	if len(keys) != 3 {
		t.Fatalf("keys %v; want a third for a second IPv4 address", keys)
	}
}
