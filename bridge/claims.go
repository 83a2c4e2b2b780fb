package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Scopes beyond the standard OpenID ones.
const (
	ScopeMembership = policy.ScopeMembership
	ScopeRoles      = policy.ScopeRoles
)

// hooks implements sso.Hooks for the server.
type hooks struct{ s *Server }

func (h *hooks) member(ctx context.Context, subject string) (*legacy.Member, error) {
	key, err := h.s.subjects.MemberKey(ctx, subject)
	if err != nil {
		return nil, err
	}
	return h.s.dir.MemberByKey(ctx, key)
}

func (h *hooks) Claims(ctx context.Context, subject, clientID string, scopes []string, target sso.ClaimTarget) (map[string]any, error) {
	m, err := h.member(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	return h.s.policy.Claims(m, subject, clientID, scopes, target, h.s.now())
}

func (h *hooks) CheckGrant(ctx context.Context, subject, clientID string) error {
	m, err := h.member(ctx, subject)
	if err != nil {
		if errors.Is(err, legacy.ErrNotFound) || errors.Is(err, sso.ErrNotFound) {
			return fmt.Errorf("%w: member no longer in the directory", sso.ErrAccessDenied)
		}
		return err // unavailable: a server error, the token stays valid
	}
	return h.s.access.Decide(ctx, m, subject, clientID, h.s.now()).Err()
}

func (h *hooks) EndSession(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	// op accepts any JWT we signed as id_token_hint. An at+jwt access token (scope) or a logout
	// token (events) is not an ID token: without a real hint the member is asked to confirm.
	if c := req.IDTokenHintClaims; c != nil {
		_, scope := c.Claims["scope"]
		_, events := c.Claims["events"]
		if scope || events {
			r := *req
			r.UserID, r.IDTokenHintClaims = "", nil
			req = &r
		}
	}
	return h.s.logout.TicketURL(req)
}

// ExternalTokenTypes lists the RFC 8693 subject token types the bridge redeems.
func (h *hooks) ExternalTokenTypes() []string {
	if h.s.exchanger == nil {
		return nil
	}
	return []string{ExchangeTokenTypeAMS}
}

func (h *hooks) Event(ctx context.Context, event, subject, clientID, detail string) {
	h.s.audit(ctx, &store.AuditEvent{Event: event, Subject: subject, ClientID: clientID, IP: requestIP(ctx), Detail: detail})
}

// audit writes an audit event and its log line (audit.Log.Write).
func (s *Server) audit(ctx context.Context, e *store.AuditEvent) { s.auditLog.Write(ctx, e) }
