package config

import (
	"fmt"

	"github.com/ssobridge/ssobridge/bridge/upstream"
)

// checkUpstream validates upstream_providers (each problem names its field).
func (c *Config) checkUpstream(p *problems) {
	for _, err := range upstream.Validate(c.UpstreamProviders) {
		p.add(err)
	}
	// link_by_email trusts the AMS's address as much as the provider's verified one: a member
	// who typed someone else's address into their AMS record would capture that person's
	// upstream identity. Only where the operator states the AMS verifies addresses.
	for i, pc := range c.UpstreamProviders {
		if pc.LinkByEmail && !c.Policy.EmailVerified {
			p.add(fmt.Errorf("upstream_providers[%d].link_by_email: needs email_verified: true, the statement that the AMS "+
				"verifies e-mail addresses (README \"email_verified\"): iMIS lets members type any address into their record, "+
				"and the provider's identity of the person whose address they typed would be linked to their account. "+
				"Leave link_by_email off (the member proves their AMS password once instead)", i))
		}
	}
}
