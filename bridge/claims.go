package bridge

import (
	"github.com/ssobridge/ssobridge/bridge/policy"
)

// Scopes beyond the standard OpenID ones.
const (
	ScopeMembership = policy.ScopeMembership
	ScopeRoles      = policy.ScopeRoles
)
