package bridge

import (
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/hooks"
)

// newHooks builds the provider's hooks (bridge/hooks) from the server's parts. The password
// check is the sign-in flow's (passwordGrant) and the token exchange the hand-off's
// (amsExchange, through the hand-off part); both read the server when called, since the web
// parts are built after the provider.
func (s *Server) newHooks(cfg config.Config) *hooks.Hooks {
	return &hooks.Hooks{
		Members: s.dir, Subjects: s.subjects, Policy: s.policy, Access: s.access, Consents: s.store,
		Audit: s.audit, ClientThrottle: s.clientThrottle,
		RequestIP: s.clientIP,
		// The logout handler is built after the provider (it needs its clients): read when called.
		LogoutPage: func(req *op.EndSessionRequest) (string, error) { return s.logout.TicketURL(req) },
		Password:   s.passwordGrant,
		Exchanger:  amsExchange{s}, ExchangeClients: cfg.AMS.ExchangeClients, Now: s.now,
	}
}

// amsExchange is the hand-off's RFC 8693 token exchange of AMS refresh tokens.
type amsExchange struct{ s *Server }

// ExternalTokenTypes is the AMS refresh token's type when the hand-off is set up.
func (h amsExchange) ExternalTokenTypes() []string {
	if h.s.handoff.Exchanger == nil {
		return nil
	}
	return []string{ExchangeTokenTypeAMS}
}
