package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/handoff"
	"github.com/ssobridge/ssobridge/bridge/web/logout"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of the hand-off.
const (
	PathHandoff         = handoff.Path // "/handoff/imis", kept for every AMS: installed AMS websites post to it
	PathHandoffContinue = handoff.PathContinue
	PathHandoffStart    = handoff.PathStart
	PathHandoffConfirm  = handoff.PathConfirm
	PathAMSLogout       = logout.PathAMS
	// ExchangeTokenTypeAMS is the RFC 8693 subject_token_type for an AMS refresh token.
	ExchangeTokenTypeAMS = "urn:ssobridge:params:oauth:token-type:ams_refresh_token"
)

// amsCapabilities are the AMS connector's optional capabilities: the website's hand-off (also
// RFC 8693 token exchange), its sign-out URL (single sign-off) and pages of its own to mount
// (the demo's simulated website under /demo-ams). Each is nil (or zero) when it has none.
type amsCapabilities struct {
	exchanger legacy.HandoffExchanger
	website   legacy.Website
	signOff   legacy.LogoutURLer
	pages     web.Prefix // Handler nil: none
}

// capabilities finds the optional capabilities of conn (nil: no connector).
func capabilities(conn legacy.Connector) amsCapabilities {
	var c amsCapabilities
	if conn == nil {
		return c
	}
	if h, ok := conn.(legacy.HandoffExchanger); ok {
		c.exchanger, c.website = h, h.Website()
	}
	if l, ok := conn.(legacy.LogoutURLer); ok {
		c.signOff = l
	}
	if p, ok := conn.(legacy.PageServer); ok {
		c.pages.Path, c.pages.Handler = p.Pages()
	}
	return c
}

// amsExchange is the hand-off's RFC 8693 token exchange of AMS refresh tokens
// (sso.ExternalExchanger, through hooks.Hooks.Exchanger); set up only when the AMS connector
// has a hand-off. Every field is required.
type amsExchange struct {
	redeemer *handoff.Redeemer
	subjects interface {
		Remember(ctx context.Context, memberKey, login string, now time.Time) (string, error)
	}
	audit func(context.Context, *store.AuditEvent)
	// secondFactor reports whether the member must use a second factor at this client, which
	// the exchange cannot ask for, in a sign-in with methods amr (mfa.Service.Needed: the
	// exchange's ["ams"] satisfies the AMS's own requirement, as the hand-off does).
	secondFactor func(ctx context.Context, clientID, subject string, m *legacy.Member, amr []string) (bool, error)
	now          func() time.Time
}

// ExternalTokenTypes is the AMS refresh token's type.
func (x amsExchange) ExternalTokenTypes() []string { return []string{ExchangeTokenTypeAMS} }

// ExchangeExternal implements RFC 8693 token exchange of an AMS refresh token.
func (x amsExchange) ExchangeExternal(ctx context.Context, clientID, subjectToken, tokenType string) (string, []string, error) {
	if tokenType != ExchangeTokenTypeAMS {
		return "", nil, sso.ErrUnsupportedTokenType
	}
	if subjectToken == "" || len(subjectToken) > handoff.MaxToken {
		return "", nil, fmt.Errorf("%w: bad subject_token", sso.ErrAccessDenied)
	}
	m, err := x.redeemer.RedeemAs(ctx, subjectToken, handoff.MethodTokenExchange)
	if err != nil {
		x.audit(ctx, &store.AuditEvent{Event: "token.exchange_failure", ClientID: clientID, Detail: legacy.Reason(err) + ": " + handoff.Reason(err)})
		if errors.Is(err, legacy.ErrUnavailable) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("%w: %v", sso.ErrAccessDenied, handoff.Reason(err))
	}
	sub, err := x.subjects.Remember(ctx, m.Key, m.Login, x.now())
	if err != nil {
		return "", nil, err
	}
	amr := []string{"ams"}
	if need, err := x.secondFactor(ctx, clientID, sub, m, amr); err != nil {
		return "", nil, err
	} else if need {
		x.audit(ctx, &store.AuditEvent{Event: "token.exchange_failure", Subject: sub, ClientID: clientID, Detail: "second factor required"})
		return "", nil, fmt.Errorf("%w: a second factor is required: sign in through the browser", sso.ErrAccessDenied)
	}
	x.audit(ctx, &store.AuditEvent{Event: "token.exchange", Subject: sub, Login: m.Login, ClientID: clientID, Detail: "ams refresh token"})
	return sub, amr, nil
}
