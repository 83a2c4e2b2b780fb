package bridge

import (
	"context"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// auditAnonymous writes an audit row caused by an anonymous caller within the client IP's
// budget of anonymous writes (audit.Log.Anonymous).
func (s *Server) auditAnonymous(ctx context.Context, ev *store.AuditEvent) {
	s.auditLog.Anonymous(ctx, ev)
}
