package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
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

// checkProvisioningClients refuses, at start-up, a provisioning target whose client id names
// no client: none of the configuration file (or built in) and none registered in the store.
// Its events would never be queued (no member signs in to it), silently: a typo in the id left
// the app's shadow users unprovisioned and its lapsed members never deactivated. The store's
// clients are known here, not at the configuration's validation. A store that cannot be read
// is its own error, not "no client has the id" (as checkDefaultClient).
func checkProvisioningClients(ctx context.Context, reg *sso.Registry, targets map[string]provisioning.Target) error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(targets)) {
		_, err := reg.ClientConfig(ctx, id)
		switch {
		case errors.Is(err, sso.ErrNotFound):
			errs = append(errs, fmt.Errorf("provisioning.%s: no client has the id %q (neither in clients: nor added with ssobridge clients add); fix the id or remove the target", id, id))
		case err != nil:
			// The store could not say (review s15, as checkDefaultClient): not the id's fault.
			errs = append(errs, fmt.Errorf("provisioning.%s: looking up the client %q in the store: %w", id, id, err))
		}
	}
	return errors.Join(errs...)
}
