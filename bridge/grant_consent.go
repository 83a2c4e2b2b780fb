package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ssobridge/ssobridge/sso"
)

var (
	_ sso.ConsentChecker             = (*hooks)(nil)
	_ sso.ExternalExchangeAuthorizer = (*hooks)(nil)
)

// HasConsent implements sso.ConsentChecker: the member's recorded consent (from the consent
// page) covers every scope, as needsConsent judges it for a browser sign-in.
func (h *hooks) HasConsent(ctx context.Context, subject, clientID string, scopes []string) (bool, error) {
	given, err := h.s.store.Consent(ctx, subject, clientID)
	if errors.Is(err, sso.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	for _, sc := range scopes {
		if !slices.Contains(given.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// MayExchangeExternal implements sso.ExternalExchangeAuthorizer: only the clients listed in
// ams.exchange_clients exchange AMS tokens.
func (h *hooks) MayExchangeExternal(clientID, tokenType string) bool {
	return tokenType == ExchangeTokenTypeAMS && slices.Contains(h.s.cfg.AMS.ExchangeClients, clientID)
}
