package bridge

import (
	"context"
	"time"

	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// provisioningScopes are the scopes whose claims a provisioning payload may carry; the
// client's claim policy still decides which of their claims the client sees.
var provisioningScopes = []string{"openid", "profile", "email", ScopeMembership, ScopeRoles}

// memberView is the member's view for one client, as shadow provisioning sends it: the
// client's claim policy (userinfo target) over the provisioning scopes. Whether the member is
// active there is access.Decide's answer (Options.Access).
func memberView(pol *policy.Engine) provisioning.ViewFunc {
	return func(_ context.Context, m *legacy.Member, subject, clientID string, now time.Time) (map[string]any, error) {
		return pol.Claims(m, subject, clientID, provisioningScopes, sso.TargetUserinfo, now)
	}
}
