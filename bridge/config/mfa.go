package config

import (
	"fmt"

	"github.com/ssobridge/ssobridge/sso"
)

// MFA policies of a client (clients[].mfa; sso.ClientConfig.MFA).
const (
	// MFAOptional (the default): members with a second factor use it; others sign in with a
	// password alone.
	MFAOptional = sso.MFAOptional
	// MFARequired: no code is issued to the client without a second factor; members without
	// one enrol first.
	MFARequired = sso.MFARequired
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
