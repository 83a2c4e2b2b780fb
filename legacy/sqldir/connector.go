package sqldir

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
)

// Generic is the `legacy:` section of type sql: the SQL directory with no preset, every query
// from legacy.queries (for an AMS whose database the column contract in queries.go can
// describe), and no built-in accounts refused unless legacy.refused_logins names them. The
// iMIS connector (package legacy/imis) is the same directory with the iMIS presets.
type Generic struct {
	Config `yaml:",inline"`
}

func (g Generic) config() Config {
	c := g.Config
	c.Presets = nil // type sql has no built-in query sets
	if c.Preset == "" {
		c.Preset = PresetNameNone
	}
	return c
}

// Validate reports every problem at once, each naming its field (legacy.<field>).
func (g Generic) Validate() error {
	if g.Preset != "" && g.Preset != PresetNameNone {
		return fmt.Errorf(fieldPrefix+"preset: type sql takes no preset (its queries come from legacy.queries); for %q use type imis", g.Preset)
	}
	return g.config().Validate()
}

// MemberRules are the settings the bridge's policy engine reads.
func (g Generic) MemberRules() legacy.MemberRules {
	return legacy.MemberRules{ExtraColumns: g.ExtraColumns, MembershipGrace: g.MembershipGrace, StandingRule: g.StandingRule}
}

// Open connects (see OpenConnector).
func (g Generic) Open(ctx context.Context, o legacy.OpenOptions) (legacy.Connector, error) {
	return OpenConnector(ctx, g.config(), o)
}

// OpenConnector opens the directory with the profile cache in front. An unreachable database
// is logged, not fatal: sign-ins fail closed until it is back.
func OpenConnector(ctx context.Context, c Config, o legacy.OpenOptions) (*Connector, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []Option{WithLogger(log)}
	if o.Standing != nil {
		opts = append(opts, WithStandingRule(o.Standing))
	}
	if o.Queries != nil {
		opts = append(opts, WithQueryObserver(o.Queries))
	}
	d, err := Open(c, opts...)
	if err != nil {
		return nil, fmt.Errorf("legacy: %w", err)
	}
	if err := d.Ping(ctx); err != nil {
		log.Error("the AMS database is not reachable at start-up", "err", err)
	} else if c.Driver == DriverSQLServer {
		warnLockingReads(ctx, d, log)
	}
	warnNoPasswordExpiry(ctx, c, log)
	return NewConnector(d, cache.Options{TTL: c.CacheTTL, Size: c.CacheSize}), nil
}

// Connector is an SQL directory behind the profile cache (a legacy.Connector and
// legacy.Diagnoser).
type Connector struct {
	db  *Directory
	dir legacy.Directory
}

// NewConnector puts the profile cache in front of an open directory; Close closes it.
func NewConnector(db *Directory, opts cache.Options) *Connector {
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

var _ legacy.Diagnoser = (*Connector)(nil)

// warnNoPasswordExpiry warns, at start-up, when passwords never expire only because the queries
// have no password_expiry and password_max_age (or password_max_age_sysadmin) is unset: the
// AMS may expire them by a setting the bridge does not read (queries.go documents it; type sql
// with its own queries gets no warning otherwise). A max age set to 0 says "never" on purpose.
func warnNoPasswordExpiry(ctx context.Context, c Config, log *slog.Logger) {
	if _, ok := c.queries()[QueryPasswordExpiry]; ok {
		return
	}
	var unset []string
	if c.PasswordMaxAge == nil {
		unset = append(unset, fieldPrefix+"password_max_age")
	}
	if c.PasswordMaxAgeSysAdmin == nil {
		unset = append(unset, fieldPrefix+"password_max_age_sysadmin")
	}
	if len(unset) == 0 {
		return
	}
	log.WarnContext(ctx, "passwords never expire: the queries have no "+QueryPasswordExpiry+" query and no maximum password age is set; add the query or set the fields (0 for never, to silence this)",
		"fields", strings.Join(unset, ", "))
}
