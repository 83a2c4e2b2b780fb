package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/sso"
)

// checkPolicyIDs refuses, at start-up, two configurations that used to start silently (review
// s13, "noticed, not done"):
//   - a SAML service provider whose id is also an OIDC client's id: policies[<id>], the access
//     rule, the audit's client name and the account page's links would then cover two apps at
//     once, without anyone having chosen that;
//   - a policies[<id>] entry that names neither an OIDC client nor a SAML service provider: its
//     claim policy and access rule apply to nothing (a typo in the id leaves the app it was
//     meant for with every claim of its scopes and no access rule).
//
// Clients and SPs added with the CLI, the admin API or the console live in the store, so the
// check is here, once both registries are loaded, as checkProvisioningClients is. Every
// problem is named, with its field; a store that cannot be read is its own error, not "no
// client has the id" (as checkDefaultClient).
//
// The check needs the SPs' ids alone: the configuration's are its entries', the stored ones'
// their records' (the app_id column), so no SP's metadata is parsed here; the server's registry
// parses each SP once (the configuration's when it is built, the stored ones at its first
// lookup, which this check leaves as it was).
func checkPolicyIDs(ctx context.Context, clients *sso.Registry, samlCfg config.SAMLConfig, st saml.SPStore, policies map[string]policy.ClientPolicy) error {
	stored, err := st.SAMLServiceProviders(ctx)
	if err != nil {
		return fmt.Errorf("bridge: SAML service providers: %w", err)
	}
	type spID struct{ id, field string }
	sps := make([]spID, 0, len(samlCfg.ServiceProviders)+len(stored))
	for i, sp := range samlCfg.ServiceProviders {
		sps = append(sps, spID{sp.ID, fmt.Sprintf("saml.service_providers[%d].id", i)})
	}
	for _, rec := range stored {
		sps = append(sps, spID{rec.ID, fmt.Sprintf("SAML service provider %q (added with ssobridge saml register)", rec.ID)})
	}
	var errs []error
	spIDs := map[string]bool{}
	for _, sp := range sps {
		id, field := sp.id, sp.field
		spIDs[id] = true
		_, err := clients.ClientConfig(ctx, id)
		switch {
		case err == nil:
			errs = append(errs, fmt.Errorf("%s: %q is also an OpenID client's id (clients: or ssobridge clients add): one policies[%s] and one audit name would cover two apps; give one of them another id", field, id, id))
		case !errors.Is(err, sso.ErrNotFound):
			errs = append(errs, fmt.Errorf("%s: looking up a client %q in the store: %w", field, id, err))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(policies)) {
		if spIDs[id] {
			continue
		}
		_, err := clients.ClientConfig(ctx, id)
		switch {
		case errors.Is(err, sso.ErrNotFound):
			errs = append(errs, fmt.Errorf("policies[%s]: no client and no SAML service provider has the id %q (neither in clients: or saml.service_providers: nor added with ssobridge clients add or saml register); fix the id or remove the policy", id, id))
		case err != nil:
			errs = append(errs, fmt.Errorf("policies[%s]: looking up the client %q in the store: %w", id, id, err))
		}
	}
	return errors.Join(errs...)
}
