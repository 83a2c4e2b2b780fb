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

// TestConsentRequiredIsRepeated (session 24, L2's leftover): token.consent_required (a
// third-party app's password grant or token exchange refused for want of the member's consent)
// goes through Repeated, keyed like token.refresh_denied, and not through Audit: an app
// retrying the password grant with a member's password wrote one row per attempt. Other events
// still go to Audit.
func TestConsentRequiredIsRepeated(t *testing.T) {
	var repeated, audited []string
	h := &hooks.Hooks{
		Repeated: func(_ context.Context, key string, _ *store.AuditEvent) { repeated = append(repeated, key) },
		Audit:    func(_ context.Context, e *store.AuditEvent) { audited = append(audited, e.Event) },
	}
	ctx := hooks.WithProtocolRequest(t.Context(), "192.0.2.5")
	for range 3 {
		h.Event(ctx, "token.consent_required", "sub-1", "forum", "grant=password: no recorded consent for the requested scopes")
	}
	h.Event(ctx, "token.refresh_reuse", "sub-1", "forum", "rotated refresh token reused; family revoked")
	want := "token.consent_required|sub-1|forum|grant=password: no recorded consent for the requested scopes|192.0.2.5"
	if len(repeated) != 3 || repeated[0] != want || repeated[2] != want {
		t.Fatalf("Repeated keys %q; want three of %q", repeated, want)
	}
	if len(audited) != 1 || audited[0] != "token.refresh_reuse" {
		t.Fatalf("Audit got %q; want only token.refresh_reuse", audited)
	}
}
