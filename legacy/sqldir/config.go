package sqldir

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // the AMS's zone must load even on hosts without a zoneinfo database

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/password"
)

// Drivers.
const (
	DriverSQLServer = "sqlserver" // github.com/microsoft/go-mssqldb
	DriverSQLite    = "sqlite"    // modernc.org/sqlite (the demo AMS)
)

// Defaults applied to zero Config fields.
const (
	DefaultQueryTimeout    = 5 * time.Second
	DefaultMaxOpenConns    = 10
	DefaultMaxIdleConns    = 5
	DefaultConnMaxLifetime = 30 * time.Minute
	DefaultCacheTTL        = 2 * time.Minute
	DefaultCacheSize       = 10_000
)

// Config is the legacy directory's configuration; the bridge embeds it under "legacy:" in its
// YAML file (and expands ${ENV} references, e.g. in dsn, before decoding). Zero values take
// the defaults above.
//
//	legacy:
//	  driver: sqlserver
//	  dsn: sqlserver://ssobridge:${AMS_DB_PASSWORD}@ams-sql:1433?database=iMIS&encrypt=true
//	  query_timeout: 5s
//	  password_max_age: 2160h   # overrides PCI.PasswordExpireDays (unset: read from the AMS)
//	  timezone: America/Chicago
//	  hash_algorithm: sha256
//	  extra_columns: [chapter, title]
type Config struct {
	// Driver is "sqlserver" (SQL Server through go-mssqldb) or "sqlite".
	Driver string `yaml:"driver"`
	// DSN is the driver's data source name. Use a read-only database login.
	DSN string `yaml:"dsn"`
	// Preset names the built-in query set, one of Presets (default: the first for the
	// driver, e.g. the iMIS connector's "imis" for sqlserver and "imis-sqlite" for sqlite), or
	// "none" (every query in Queries).
	Preset string `yaml:"preset"`
	// Presets are the built-in query sets the connector offers (set by the connector
	// package, e.g. legacy/imis; none for type sql).
	Presets []Preset `yaml:"-"`
	// Queries overrides single named queries of the preset (see QueryNames and the column
	// contract in queries.go).
	Queries map[string]string `yaml:"queries"`
	// ExtraColumns are additional result columns copied into Member.Extra (the iMIS preset
	// offers title, chapter, category, company_id, member_status, city, state_province, country).
	ExtraColumns []string `yaml:"extra_columns"`

	MaxOpenConns    int           `yaml:"max_open_conns"`
	MaxIdleConns    int           `yaml:"max_idle_conns"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`
	// QueryTimeout bounds every query (default 5s).
	QueryTimeout time.Duration `yaml:"query_timeout"`

	// PasswordMaxAge expires the passwords of members who are not system administrators when
	// not changed for this long; zero: never. Unset: the AMS's own setting (query
	// password_expiry; iMIS SystemConfig PCI.PasswordExpireDays × 24h, read with the application
	// clock), or never when the queries have no password_expiry.
	PasswordMaxAge *time.Duration `yaml:"password_max_age"`
	// PasswordMaxAgeSysAdmin is the same for system administrators (the member query's
	// is_sysadmin; iMIS: the SysAdmin role), whose passwords iMIS expires by their own setting,
	// PCI.PasswordExpireDaysSysAdmin. Unset: read from the AMS as PasswordMaxAge is.
	PasswordMaxAgeSysAdmin *time.Duration `yaml:"password_max_age_sysadmin"`
	// HashAlgorithm is the site's Membership hashAlgorithmType: sha256 (iMIS default), sha1,
	// sha384, sha512, or a keyed hmacsha1/hmacsha256/hmacsha384/hmacsha512.
	HashAlgorithm string `yaml:"hash_algorithm"`
	// AppTimeOffset is the AMS's application clock: iMIS stores its own dates (UserMain,
	// ContactMain, Name, GroupMember) in UTC plus a fixed offset, kept in SystemConfig
	// System.Database.TimeZoneOffset (no daylight saving). "auto" (default) reads it from the
	// AMS (query app_clock, re-read every AppClockRefresh); "+HH:MM" or "-HH:MM" fixes it.
	// aspnet_Membership dates are always read as UTC.
	AppTimeOffset string `yaml:"app_time_offset"`
	// Timezone is the zone of the AMS's database server (IANA name, "UTC" or "Local"; default
	// Local). It is used only when AppTimeOffset is "auto" and the AMS stores no offset: then,
	// as iMIS's asi_GetAppDatetime does, the zone's offset at the current moment is the
	// application clock's.
	Timezone string `yaml:"timezone"`
	// RoleSources lists where members' roles come from (see legacy.RoleSources): default all
	// that iMIS uses for authorisation (user_roles, groups, member_type_groups,
	// security_groups, member_type, member_group), without everyone and authenticated_users.
	RoleSources []string `yaml:"role_sources"`
	// MembershipGrace is the grace period after the paid-through date during which a member
	// still counts as current (membership standing "grace"; default 0).
	MembershipGrace time.Duration `yaml:"membership_grace"`
	// StandingRule, when set, replaces the built-in membership rule: a CEL expression over
	// member (the same variables as access rules, with member.standing the built-in answer)
	// that returns true when the member is current. Evaluated by the bridge.
	StandingRule string `yaml:"standing_rule"`
	// MemberKey chooses the preset's member key mode (Preset.MemberKeys; default its first),
	// from which subjects are derived. The iMIS presets offer "provider_key" (default) and
	// "contact_key" (see package legacy/imis).
	MemberKey string `yaml:"member_key"`
	// KeyFormat is "guid" (default: keys are GUIDs, rendered upper-case) or "text" (keys are
	// opaque strings, for an AMS whose contact keys are not GUIDs; its list_members must order
	// them by their bytes, with a binary collation such as Latin1_General_BIN2).
	KeyFormat string `yaml:"key_format"`
	// EmailUnique says the AMS guarantees unique e-mail addresses (iMIS does not).
	EmailUnique bool `yaml:"email_unique"`
	// RefusedLogins never sign in and are not found by lookups (default: the presets'
	// built-in accounts, Preset.RefusedLogins; none without presets). Compared
	// case-insensitively.
	RefusedLogins []string `yaml:"refused_logins"`

	// CacheTTL is how long the profile cache (package legacy/cache) keeps members and roles
	// (default 2m). CacheSize bounds it (default 10000 entries; negative disables it).
	CacheTTL  time.Duration `yaml:"cache_ttl"`
	CacheSize int           `yaml:"cache_size"`
}

// fieldPrefix is where the bridge's YAML puts this configuration.
const fieldPrefix = "legacy."

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the configuration. Each problem names the offending field
// ("legacy.query_timeout: must be positive"); all problems are joined.
func (c Config) Validate() error { return c.validate(true) }

// validate checks the configuration; New, given an open handle, needs no DSN.
func (c Config) validate(needDSN bool) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf(fieldPrefix+field+": "+format, args...))
	}
	switch c.Driver {
	case DriverSQLServer, DriverSQLite:
	case "":
		bad("driver", "required (%s or %s)", DriverSQLServer, DriverSQLite)
	default:
		bad("driver", "unknown driver %q (want %s or %s)", c.Driver, DriverSQLServer, DriverSQLite)
	}
	if needDSN && strings.TrimSpace(c.DSN) == "" {
		bad("dsn", "required")
	}
	preset := c.preset()
	if names := c.presetNames(); !slices.Contains(names, preset) {
		bad("preset", "unknown preset %q (want %s)", c.Preset, orList(names))
	}
	if c.MaxOpenConns < 0 {
		bad("max_open_conns", "must not be negative")
	}
	if c.MaxIdleConns < 0 {
		bad("max_idle_conns", "must not be negative")
	}
	if c.ConnMaxLifetime < 0 {
		bad("conn_max_lifetime", "must not be negative")
	}
	if c.QueryTimeout < 0 {
		bad("query_timeout", "must be positive")
	}
	if c.PasswordMaxAge != nil && *c.PasswordMaxAge < 0 {
		bad("password_max_age", "must not be negative (0 = passwords never expire; unset = the AMS's PCI.PasswordExpireDays)")
	}
	if c.PasswordMaxAgeSysAdmin != nil && *c.PasswordMaxAgeSysAdmin < 0 {
		bad("password_max_age_sysadmin", "must not be negative (0 = passwords never expire; unset = the AMS's PCI.PasswordExpireDaysSysAdmin)")
	}
	if c.CacheTTL < 0 {
		bad("cache_ttl", "must be positive")
	}
	if _, err := password.ParseAlgorithm(c.HashAlgorithm); err != nil {
		bad("hash_algorithm", "%v", err)
	}
	if _, err := c.location(); err != nil {
		bad("timezone", "%v", err)
	}
	if _, _, err := ParseAppTimeOffset(c.AppTimeOffset); err != nil {
		bad("app_time_offset", "%v", err)
	}
	if err := legacy.CheckRoleSources(c.RoleSources); err != nil {
		bad("role_sources"+strings.SplitN(err.Error(), ":", 2)[0], "%s", strings.TrimSpace(strings.SplitN(err.Error(), ":", 2)[1]))
	}
	if c.MembershipGrace < 0 {
		bad("membership_grace", "must not be negative")
	}
	if keys := c.memberKeys(); c.MemberKey != "" && !slices.Contains(keys, c.MemberKey) {
		if len(keys) == 0 {
			bad("member_key", "unknown member key %q (this connector has no member key modes: the key is the queries' user_key)", c.MemberKey)
		} else {
			bad("member_key", "unknown member key %q (want %s)", c.MemberKey, orList(keys))
		}
	}
	switch c.KeyFormat {
	case "", "guid", "text":
	default:
		bad("key_format", "unknown key format %q (want guid or text)", c.KeyFormat)
	}
	names := QueryNames()
	for _, name := range sortedKeys(c.Queries) {
		if !slices.Contains(names, name) {
			bad("queries."+name, "unknown query (want one of %s)", strings.Join(names, ", "))
		} else if strings.TrimSpace(c.Queries[name]) == "" {
			bad("queries."+name, "must not be empty")
		}
	}
	if preset == PresetNameNone {
		for _, name := range names {
			if name == QueryAppClock || name == QueryDBClock || name == QueryRolesInRange || name == QueryMembersByEmail || name == QueryPasswordExpiry ||
				name == QueryMemberByKeyCommitted || name == QueryRolesByKeyCommitted {
				continue // optional: the timezone's offset; the database's clock; roles per member; look-up by e-mail; no password expiry; the confirming read as the look-up
			}
			if _, ok := c.Queries[name]; !ok {
				bad("queries."+name, "required with preset %q", PresetNameNone)
			}
		}
	}
	for i, col := range c.ExtraColumns {
		switch {
		case !identifier.MatchString(col):
			bad(fmt.Sprintf("extra_columns[%d]", i), "%q is not a column name", col)
		case contractColumns[strings.ToLower(col)] || strings.HasPrefix(strings.ToLower(col), "updated_at"):
			bad(fmt.Sprintf("extra_columns[%d]", i), "%q is a contract column", col)
		}
	}
	for i, l := range c.RefusedLogins {
		if strings.TrimSpace(l) == "" {
			bad(fmt.Sprintf("refused_logins[%d]", i), "must not be empty")
		}
	}
	return errors.Join(errs...)
}

// preset is the preset's name: the configured one, or the first preset for the driver (the
// first preset for an unknown driver, whose error is the driver's alone), or none.
func (c Config) preset() string {
	if c.Preset != "" {
		return c.Preset
	}
	for _, p := range c.Presets {
		if p.Driver == c.Driver {
			return p.Name
		}
	}
	if len(c.Presets) > 0 {
		return c.Presets[0].Name
	}
	return PresetNameNone
}

// queries returns the effective query set: the preset with the overrides applied.
func (c Config) queries() map[string]string {
	q := map[string]string{}
	if p := c.presetValue(); p != nil {
		q = p.Queries(c.MemberKey)
	}
	for name, text := range c.Queries {
		q[name] = text
	}
	// A member_by_key (roles_by_key) written in queries: and no committed variant of it: the
	// preset's committed variant would read by other rules than the operator's query, so the
	// confirming read runs the operator's (review s26 R3-4).
	for plain, committed := range map[string]string{QueryMemberByKey: QueryMemberByKeyCommitted, QueryRolesByKey: QueryRolesByKeyCommitted} {
		_, own := c.Queries[plain]
		_, ownCommitted := c.Queries[committed]
		if own && !ownCommitted {
			delete(q, committed)
		}
	}
	return q
}

func (c Config) location() (*time.Location, error) {
	switch c.Timezone {
	case "", "Local":
		return time.Local, nil
	case "UTC":
		return time.UTC, nil
	}
	return time.LoadLocation(c.Timezone)
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.QueryTimeout == 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = DefaultMaxOpenConns
	}
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = min(DefaultMaxIdleConns, c.MaxOpenConns)
	}
	if c.ConnMaxLifetime == 0 {
		c.ConnMaxLifetime = DefaultConnMaxLifetime
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.KeyFormat == "" {
		c.KeyFormat = "guid"
	}
	if c.RefusedLogins == nil {
		c.RefusedLogins = c.defaultRefusedLogins()
	}
	if c.RoleSources == nil {
		c.RoleSources = legacy.DefaultRoleSources()
	}
	if c.AppTimeOffset == "" {
		c.AppTimeOffset = "auto"
	}
	if keys := c.memberKeys(); c.MemberKey == "" && len(keys) > 0 {
		c.MemberKey = keys[0]
		if p := c.presetValue(); p != nil && len(p.MemberKeys) > 0 {
			c.MemberKey = p.MemberKeys[0]
		}
	}
	c.Preset = c.preset()
	return c
}

// orList renders "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseAppTimeOffset reads app_time_offset: "" or "auto" (auto true), or a fixed offset
// "+HH:MM" / "-HH:MM" (at most 14 hours), returned in minutes east of UTC.
func ParseAppTimeOffset(s string) (minutes int, auto bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "auto" {
		return 0, true, nil
	}
	t, perr := time.Parse("-07:00", s)
	if perr != nil || (s[0] != '+' && s[0] != '-') {
		return 0, false, fmt.Errorf("%q is neither auto nor an offset like +01:00 or -06:00", s)
	}
	_, off := t.Zone()
	if off > 14*3600 || off < -14*3600 {
		return 0, false, fmt.Errorf("%q is more than 14 hours from UTC", s)
	}
	return off / 60, false, nil
}
