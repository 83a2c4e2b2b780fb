package bridge

import (
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/sso"
)

// Test-only access to the parts a Server is built from.

// FlushMemberCache drops cached member profiles (after an AMS change the test made).
func (s *Server) FlushMemberCache() {
	if p, ok := s.dir.(interface{ Purge() }); ok {
		p.Purge()
	}
}

// Provider is the OpenID provider.
func (s *Server) Provider() *sso.Provider { return s.provider }

// Registry is the client registry.
func (s *Server) Registry() *sso.Registry { return s.registry }

// Shadow is the shadow-user service.
func (s *Server) Shadow() *provisioning.Service { return s.shadow }

// Admin is the administration.
func (s *Server) Admin() *admin.Service { return s.admin }

// Keys is the signing key manager.
func (s *Server) Keys() *sso.KeyManager { return s.keys }
