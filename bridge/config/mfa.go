package config

import (
	"fmt"
	"time"

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
	// FirstEnrolment says what lets a member set up a first second factor (an authenticator
	// app or a passkey, while they have none): open (the default) the sign-in alone, the
	// password for most members; invitation also a one-time code an administrator issued to
	// the member (ssobridge mfa invite, or POST /admin/mfa/invite), typed with the first
	// factor. Members the AMS asks a factor of enrol only after the AMS website's hand-off
	// (where the AMS checked its own factor), and then without a code, either way.
	FirstEnrolment string `yaml:"first_enrolment"`
	// StepUpMaxAge is how recent this session's second factor (a step-up, or the sign-in with
	// it) must be for the member to change their factors on the security page: add or remove
	// an authenticator app or a passkey (default 10m, at least 1m, at most 24h). An older one
	// is asked for again first.
	StepUpMaxAge time.Duration `yaml:"step_up_max_age"`
}

// DefaultStepUpMaxAge is mfa.step_up_max_age when unset.
const DefaultStepUpMaxAge = 10 * time.Minute

// StepUpAge is mfa.step_up_max_age or its default.
func (m *MFAConfig) StepUpAge() time.Duration {
	if m.StepUpMaxAge > 0 {
		return m.StepUpMaxAge
	}
	return DefaultStepUpMaxAge
}

// Values of mfa.first_enrolment (MFAConfig.FirstEnrolment).
const (
	// FirstEnrolmentOpen (the default, also when empty): the password alone lets a member the
	// AMS does not ask a factor of enrol a first one. Not invitation by default: every member
	// of an app with mfa: required, or a required role, who has no factor yet would be locked
	// out until an administrator issued them a code.
	FirstEnrolmentOpen = "open"
	// FirstEnrolmentInvitation: a first factor also needs a one-time code an administrator
	// issued to the member (review s12 W9: else whoever holds the password binds their own
	// authenticator first).
	FirstEnrolmentInvitation = "invitation"
)

// InvitationFirst reports whether a first factor needs an administrator's invitation.
func (m *MFAConfig) InvitationFirst() bool { return m.FirstEnrolment == FirstEnrolmentInvitation }

func (m *MFAConfig) check(p *problems) {
	for i, r := range m.RequiredRoles {
		if r == "" {
			p.addf(fmt.Sprintf("mfa.required_roles[%d]", i), "must not be empty")
		}
	}
	switch m.FirstEnrolment {
	case "", FirstEnrolmentOpen, FirstEnrolmentInvitation:
	default:
		p.addf("mfa.first_enrolment", "must be %q or %q, not %q", FirstEnrolmentOpen, FirstEnrolmentInvitation, m.FirstEnrolment)
	}
	if a := m.StepUpMaxAge; a != 0 && (a < time.Minute || a > 24*time.Hour) {
		p.addf("mfa.step_up_max_age", "must be between 1m and 24h (default %s), not %s", DefaultStepUpMaxAge, a)
	}
}
