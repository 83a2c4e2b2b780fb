package config

import "fmt"

// MFA policies of a client (clients[].mfa).
const (
	// MFAOptional (the default): members with a second factor use it; others sign in with a
	// password alone.
	MFAOptional = "optional"
	// MFARequired: no code is issued to the client without a second factor; members without
	// one enrol first.
	MFARequired = "required"
)

// MFAConfig is the association-wide second-factor policy (mfa:).
type MFAConfig struct {
	// RequiredRoles are AMS roles whose members must use a second factor for every app (e.g.
	// staff); members holding any of them enrol at their next sign-in.
	RequiredRoles []string `yaml:"required_roles"`
}

func (m *MFAConfig) check(p *problems) {
	for i, r := range m.RequiredRoles {
		if r == "" {
			p.addf(fmt.Sprintf("mfa.required_roles[%d]", i), "must not be empty")
		}
	}
}

// checkMFA checks a client's mfa policy.
func (c *Client) checkMFA(p *problems) {
	switch c.MFA {
	case "", MFAOptional, MFARequired:
	default:
		p.addf(fmt.Sprintf("clients[%s].mfa", c.ID), "%q must be optional or required", c.MFA)
	}
}

// MFARequiredClients are the ids of the config file's clients whose mfa is required.
func (c *Config) MFARequiredClients() map[string]bool {
	out := map[string]bool{}
	for _, cl := range c.Clients {
		if cl.MFA == MFARequired {
			out[cl.ID] = true
		}
	}
	return out
}
