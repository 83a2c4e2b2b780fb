package imis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// Config is the `legacy:` section of type imis: the iMIS database (see sqldir.Config; the
// preset defaults to iMIS's) and the iMIS website (AMS), which the bridge fills from its
// top-level `ams:` section.
type Config struct {
	sqldir.Config `yaml:",inline"`
	// AMS is the iMIS website; not configured: no hand-off and no single sign-off.
	AMS WebsiteConfig `yaml:"-"`
}

// Validate reports every problem at once, each naming its field (legacy.<field>, ams.<field>).
func (c Config) Validate() error {
	var errs []error
	for _, err := range []error{c.Config.Validate(), c.AMS.Validate()} {
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
	log := logger(o)
	opts := []sqldir.Option{sqldir.WithLogger(log)}
	if o.Standing != nil {
		opts = append(opts, sqldir.WithStandingRule(o.Standing))
	}
	d, err := sqldir.Open(c.Config, opts...)
	if err != nil {
		return nil, fmt.Errorf("legacy: %w", err)
	}
	if err := d.Ping(ctx); err != nil {
		log.Error("the AMS database is not reachable at start-up", "err", err)
	}
	conn := NewConnector(d, cache.Options{TTL: c.CacheTTL, Size: c.CacheSize})
	if !c.AMS.Enabled() {
		return conn, nil
	}
	w, err := NewSite(c.AMS, token.WithLogger(log))
	if err != nil {
		d.Close()
		return nil, err
	}
	return WithWebsite(conn, w), nil
}

func logger(o legacy.OpenOptions) *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Connector is an iMIS database behind the profile cache.
type Connector struct {
	db  *sqldir.Directory
	dir legacy.Directory
}

// NewConnector puts the profile cache in front of an open directory; Close closes it.
func NewConnector(db *sqldir.Directory, opts cache.Options) *Connector {
	return &Connector{db: db, dir: cache.Wrap(db, opts)}
}

// Directory is the cached member directory.
func (c *Connector) Directory() legacy.Directory { return c.dir }

// Close closes the database.
func (c *Connector) Close() error { return c.db.Close() }

// Diagnose runs every query for a login and explains what is wrong (legacy.Diagnoser).
func (c *Connector) Diagnose(ctx context.Context, login string, w io.Writer) error {
	return c.db.Diagnose(ctx, login, w)
}

// withWebsite is a connector with the iMIS website's hand-off and single sign-off.
type withWebsite struct {
	*Connector
	*Site
}

// WithWebsite adds the website's capabilities (legacy.HandoffExchanger, legacy.LogoutURLer)
// to a connector.
func WithWebsite(c *Connector, w *Site) legacy.Connector { return &withWebsite{c, w} }

var (
	_ legacy.HandoffExchanger = (*withWebsite)(nil)
	_ legacy.LogoutURLer      = (*withWebsite)(nil)
	_ legacy.Diagnoser        = (*withWebsite)(nil)
	_ legacy.Diagnoser        = (*Connector)(nil)
)
