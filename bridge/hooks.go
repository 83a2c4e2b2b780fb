package bridge

import (
	"context"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web/handoff"
)

// newHooks builds the provider's hooks (bridge/hooks) from the server's parts, all built
// before the provider: the password check is the sign-in flow's (passwordGrant), logoutPage
// seals end_session's logout ticket and exchange is the hand-off's token exchange.
func (s *Server) newHooks(cfg config.Config, logoutPage func(*op.EndSessionRequest) (string, error), exchange amsExchange) *hooks.Hooks {
	return &hooks.Hooks{
		Members: s.dir, Subjects: s.subjects, Policy: s.policy, Access: s.access, Consents: s.store,
		Audit: s.audit, ClientThrottle: s.clientThrottle,
		RequestIP:  s.clientIP,
		LogoutPage: logoutPage,
		Password:   s.passwordGrant,
		Exchanger:  exchange, ExchangeClients: cfg.AMS.ExchangeClients, Now: s.now,
	}
}

// amsExchange is the hand-off's RFC 8693 token exchange of AMS refresh tokens.
type amsExchange struct {
	redeemer *handoff.Redeemer
	audit    func(context.Context, *store.AuditEvent)
	subjects *identity.SubjectMapper
	now      func() time.Time
}

// ExternalTokenTypes is the AMS refresh token's type when the hand-off is set up.
func (h amsExchange) ExternalTokenTypes() []string {
	if h.redeemer.Exchanger == nil {
		return nil
	}
	return []string{ExchangeTokenTypeAMS}
}
