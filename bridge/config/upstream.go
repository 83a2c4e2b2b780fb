package config

import "github.com/ssobridge/ssobridge/bridge/upstream"

// checkUpstream validates upstream_providers (each problem names its field).
func (c *Config) checkUpstream(p *problems) {
	for _, err := range upstream.Validate(c.UpstreamProviders) {
		p.add(err)
	}
}
