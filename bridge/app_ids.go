package bridge

import (
	"fmt"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// One id names one app: a client and a SAML service provider with the same id would share
// policies[<id>], the access rule and the audit's client name. Start-up refuses such a pair
// (checkPolicyIDs); a registration while serving is refused where it is written: the store
// refuses an id that a stored client or SP has (store.ErrAppIDTaken), and the ids the
// configuration file gives are refused before it (admin.Service.ConfigSAMLIDs for clients,
// saml.Registry.ConfigClientIDs for SPs).

// ConfigClientIDs are the ids of the configuration's OIDC clients (clients:, the playground's
// and the console's when they are on), each with what gives it: a SAML SP registered with one
// of them is refused (saml.Registry.ConfigClientIDs).
func ConfigClientIDs(chk *config.Checked) map[string]string {
	out := map[string]string{}
	for _, c := range StaticClients(chk) {
		out[c.ID] = fmt.Sprintf("OpenID client %q of the configuration file", c.ID)
	}
	if c, _, ok := consoleClient(chk); ok {
		out[c.ID] = fmt.Sprintf("the admin console's OpenID client %q", c.ID)
	}
	return out
}

// configSAMLIDs are the ids of the configuration's SAML SPs, each with its field: a client
// added with one of them is refused (admin.Service.ConfigSAMLIDs).
func configSAMLIDs(cfg config.Config) map[string]string {
	out := make(map[string]string, len(cfg.SAML.ServiceProviders))
	for i, sp := range cfg.SAML.ServiceProviders {
		out[sp.ID] = fmt.Sprintf("saml.service_providers[%d] (SAML service provider %s)", i, sp.EntityID)
	}
	return out
}
