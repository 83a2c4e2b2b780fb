package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Scopes beyond the standard OpenID ones.
const (
	ScopeMembership = "membership"
	ScopeRoles      = "roles"
)

var supportedScopes = []string{"openid", "profile", "email", "phone", "address", "offline_access", ScopeMembership, ScopeRoles}

var supportedClaims = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp", "amr",
	"name", "given_name", "family_name", "preferred_username", "picture", "updated_at", "email", "email_verified",
	"member_id", "member_type", "member_status", "join_date", "paid_through", "is_current", "company", "roles"}

// memberClaims returns the claims of a member for the granted scopes. Claims of a scope that
// was not granted are never added.
func memberClaims(m *legacy.Member, scopes []string, now time.Time) map[string]any {
	out := map[string]any{}
	has := func(s string) bool { return slices.Contains(scopes, s) }
	if has("profile") {
		set(out, "name", m.FullName)
		set(out, "given_name", m.GivenName)
		set(out, "family_name", m.FamilyName)
		set(out, "preferred_username", m.Login)
		set(out, "picture", m.PictureURL)
		if !m.UpdatedAt.IsZero() {
			out["updated_at"] = m.UpdatedAt.Unix()
		}
	}
	if has("email") && m.Email != "" {
		out["email"] = m.Email
		// The AMS does not verify addresses (iMIS has no such flag), so we never claim it.
		out["email_verified"] = false
	}
	if has(ScopeMembership) {
		set(out, "member_id", m.MemberID)
		set(out, "member_type", m.MemberType)
		set(out, "member_status", m.Status)
		set(out, "company", m.Company)
		if !m.JoinDate.IsZero() {
			out["join_date"] = m.JoinDate.Format("2006-01-02")
		}
		if !m.PaidThrough.IsZero() {
			out["paid_through"] = m.PaidThrough.Format("2006-01-02")
		}
		out["is_current"] = m.IsCurrent(now)
	}
	if has(ScopeRoles) {
		roles := m.Roles
		if roles == nil {
			roles = []string{}
		}
		out["roles"] = roles
	}
	return out
}

func set(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

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
	return memberClaims(m, scopes, h.s.now()), nil
}

func (h *hooks) CheckGrant(ctx context.Context, subject, clientID string) error {
	m, err := h.member(ctx, subject)
	if err != nil {
		if errors.Is(err, legacy.ErrNotFound) || errors.Is(err, sso.ErrNotFound) {
			return fmt.Errorf("%w: member no longer in the directory", sso.ErrAccessDenied)
		}
		return err // unavailable: a server error, the token stays valid
	}
	if err := m.Standing.Check(h.s.now(), 0); err != nil {
		return fmt.Errorf("%w: %s", sso.ErrAccessDenied, legacy.Reason(err))
	}
	return nil
}

func (h *hooks) EndSession(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	return h.s.logoutTicket(req)
}

// ExternalTokenTypes lists the RFC 8693 subject token types the bridge redeems.
func (h *hooks) ExternalTokenTypes() []string {
	if h.s.ams == nil {
		return nil
	}
	return []string{ExchangeTokenTypeAMS}
}

func (h *hooks) Event(ctx context.Context, event, subject, clientID, detail string) {
	h.s.audit(ctx, &store.AuditEvent{Event: event, Subject: subject, ClientID: clientID, Detail: detail})
}

// audit writes an audit event and its log line; failures to write are logged, not fatal.
func (s *Server) audit(ctx context.Context, e *store.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	s.log.InfoContext(ctx, "audit", "event", e.Event, "subject", e.Subject, "login", e.Login, "client", e.ClientID, "ip", e.IP, "detail", e.Detail)
	if err := s.store.Audit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit write failed", "event", e.Event, "err", err)
	}
}
