package imis

import (
	"context"
	"errors"
	"io"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// Config is the `legacy:` section of type imis: the iMIS database (see sqldir.Config; with the
// iMIS presets, Presets) and the iMIS website (AMS), which the bridge fills from its
// top-level `ams:` section.
type Config struct {
	sqldir.Config `yaml:",inline"`
	// AMS is the iMIS website; not configured: no hand-off and no single sign-off.
	AMS WebsiteConfig `yaml:"-"`
}

// Validate reports every problem at once, each naming its field (legacy.<field>, ams.<field>).
func (c Config) Validate() error {
	var errs []error
	for _, err := range []error{SQLConfig(c.Config).Validate(), c.AMS.Validate()} {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = append(errs, j.Unwrap()...)
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// MemberRules are the settings the bridge's policy engine reads.
func (c Config) MemberRules() legacy.MemberRules {
	return legacy.MemberRules{ExtraColumns: c.ExtraColumns, MembershipGrace: c.MembershipGrace, StandingRule: c.StandingRule}
}

// Open connects to the iMIS database (an unreachable database is logged, not fatal: sign-ins
// fail closed until it is back) and, when configured, to the website.
func (c Config) Open(ctx context.Context, o legacy.OpenOptions) (legacy.Connector, error) {
	conn, err := sqldir.OpenConnector(ctx, SQLConfig(c.Config), o)
	if err != nil {
		return nil, err
	}
	if !c.AMS.Enabled() {
		return conn, nil
	}
	w, err := NewSite(c.AMS, token.WithLogger(o.Logger))
	if err != nil {
		conn.Close()
		return nil, err
	}
	return WithWebsite(conn, w), nil
}

// MemberKeyModes are iMIS's member keys (legacy.MemberKeyChooser): provider_key for a new
// installation, contact_key for one that issued subjects before the mode was recorded.
func (c *Config) MemberKeyModes() legacy.MemberKeyModes {
	return legacy.MemberKeyModes{Configured: c.MemberKey, Default: MemberKeyProvider, Unrecorded: MemberKeyContact}
}

// SetMemberKey sets legacy.member_key (legacy.MemberKeyChooser).
func (c *Config) SetMemberKey(mode string) { c.MemberKey = mode }

// SetWebsite takes the iMIS website of the bridge's top-level `ams:` section.
func (c *Config) SetWebsite(w WebsiteConfig) { c.AMS = w }

// CheckToken tests the website's token endpoint (legacy.TokenChecker).
func (c *Config) CheckToken(ctx context.Context, w io.Writer) error { return c.AMS.CheckToken(ctx, w) }

var (
	_ legacy.MemberKeyChooser = (*Config)(nil)
	_ legacy.TokenChecker     = (*Config)(nil)
)

// withWebsite is a connector with the iMIS website's hand-off and single sign-off.
type withWebsite struct {
	*sqldir.Connector
	*Site
}

// WithWebsite adds the website's capabilities (legacy.HandoffExchanger, legacy.LogoutURLer)
// to a connector.
func WithWebsite(c *sqldir.Connector, w *Site) legacy.Connector { return &withWebsite{c, w} }

var (
	_ legacy.HandoffExchanger = (*withWebsite)(nil)
	_ legacy.LogoutURLer      = (*withWebsite)(nil)
	_ legacy.Diagnoser        = (*withWebsite)(nil)
)
