package bridge

import (
	"context"

	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// Scopes beyond the standard OpenID ones.
const (
	ScopeMembership = policy.ScopeMembership
	ScopeRoles      = policy.ScopeRoles
)

// audit writes an audit event and its log line (audit.Log.Write).
func (s *Server) audit(ctx context.Context, e *store.AuditEvent) { s.auditLog.Write(ctx, e) }
