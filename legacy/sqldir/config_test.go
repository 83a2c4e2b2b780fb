package sqldir

import (
	"slices"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"gopkg.in/yaml.v3"
)

func TestValidateNamesTheField(t *testing.T) {
	ok := Config{Driver: DriverSQLServer, DSN: "sqlserver://u:p@h?database=ams", Presets: testPresets()}
	if err := ok.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Driver = "" }, "legacy.driver: required"},
		{func(c *Config) { c.Driver = "postgres" }, "legacy.driver: unknown driver"},
		{func(c *Config) { c.DSN = " " }, "legacy.dsn: required"},
		{func(c *Config) { c.Preset = "netforum" }, `legacy.preset: unknown preset "netforum" (want t-mssql, t-lite or none)`},
		{func(c *Config) { c.MemberKey = "email" }, `legacy.member_key: unknown member key "email" (want row or text)`},
		{func(c *Config) { c.Presets = nil; c.MemberKey = "row" }, "legacy.member_key: unknown member key \"row\" (this connector has no member key modes"},
		{func(c *Config) { c.QueryTimeout = -time.Second }, "legacy.query_timeout: must be positive"},
		{func(c *Config) { c.MaxOpenConns = -1 }, "legacy.max_open_conns: must not be negative"},
		{func(c *Config) { c.MaxIdleConns = -1 }, "legacy.max_idle_conns: must not be negative"},
		{func(c *Config) { c.ConnMaxLifetime = -1 }, "legacy.conn_max_lifetime: must not be negative"},
		{func(c *Config) { c.PasswordMaxAge = new(time.Duration(-1)) }, "legacy.password_max_age: must not be negative"},
		{func(c *Config) { c.PasswordMaxAgeSysAdmin = new(-time.Hour) }, "legacy.password_max_age_sysadmin: must not be negative"},
		{func(c *Config) { c.CacheTTL = -1 }, "legacy.cache_ttl: must be positive"},
		{func(c *Config) { c.HashAlgorithm = "md5" }, "legacy.hash_algorithm: unknown hash algorithm"},
		{func(c *Config) { c.Timezone = "Mars/Olympus" }, "legacy.timezone:"},
		{func(c *Config) { c.KeyFormat = "int" }, "legacy.key_format: unknown key format"},
		{func(c *Config) { c.Queries = map[string]string{"member_by_email": "SELECT 1"} }, "legacy.queries.member_by_email: unknown query"},
		{func(c *Config) { c.Queries = map[string]string{QueryPing: " "} }, "legacy.queries.ping: must not be empty"},
		{func(c *Config) { c.Preset = PresetNameNone; c.Queries = map[string]string{QueryPing: "SELECT 1"} }, "legacy.queries.member_by_login: required with preset"},
		{func(c *Config) { c.ExtraColumns = []string{"chapter; DROP"} }, "legacy.extra_columns[0]: \"chapter; DROP\" is not a column name"},
		{func(c *Config) { c.ExtraColumns = []string{"title", "password"} }, "legacy.extra_columns[1]: \"password\" is a contract column"},
		{func(c *Config) { c.ExtraColumns = []string{"updated_at_name"} }, "is a contract column"},
		{func(c *Config) { c.RefusedLogins = []string{""} }, "legacy.refused_logins[0]: must not be empty"},
		{func(c *Config) { c.RoleSources = []string{"user_roles", "aspnet_roles"} }, "legacy.role_sources[1]: unknown role source \"aspnet_roles\""},
		{func(c *Config) { c.AppTimeOffset = "CST" }, "legacy.app_time_offset: \"CST\" is neither auto nor an offset"},
		{func(c *Config) { c.AppTimeOffset = "+15:00" }, "legacy.app_time_offset: \"+15:00\" is more than 14 hours"},
		{func(c *Config) { c.MembershipGrace = -time.Hour }, "legacy.membership_grace: must not be negative"},
		{func(c *Config) { c.ExtraColumns = []string{"member_status"} }, "is a contract column"},
		{func(c *Config) { c.ExtraColumns = []string{"password_changed_at_utc"} }, "is a contract column"},
	} {
		c := ok
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, tc.want)
		}
	}
	// Several problems are all reported.
	bad := Config{QueryTimeout: -1}
	err := bad.Validate()
	for _, f := range []string{"legacy.driver", "legacy.dsn", "legacy.query_timeout"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("joined errors lack %s: %v", f, err)
		}
	}
}

// testPresets are two presets of a made-up AMS: one a driver, with two member key modes.
func testPresets() []Preset {
	preset := func(name, driver string) Preset {
		return Preset{Name: name, Driver: driver, MemberKeys: []string{"row", "text"}, TextKeys: []string{"text"},
			RefusedLogins: []string{"ROOT"},
			Queries: func(memberKey string) map[string]string {
				q := map[string]string{}
				for _, n := range QueryNames() {
					q[n] = "SELECT '" + name + "', '" + memberKey + "'"
				}
				return q
			}}
	}
	return []Preset{preset("t-mssql", DriverSQLServer), preset("t-lite", DriverSQLite)}
}

func TestDefaults(t *testing.T) {
	c := Config{Driver: DriverSQLServer, DSN: "x", Presets: testPresets()}.withDefaults()
	if c.QueryTimeout != 5*time.Second || c.Preset != "t-mssql" || c.KeyFormat != "guid" || c.MemberKey != "row" ||
		c.CacheTTL != DefaultCacheTTL || c.MaxOpenConns != DefaultMaxOpenConns || !slices.Equal(c.RefusedLogins, []string{"ROOT"}) {
		t.Fatalf("defaults = %+v", c)
	}
	if p := (Config{Driver: DriverSQLite, Presets: testPresets()}).withDefaults().Preset; p != "t-lite" {
		t.Fatalf("sqlite default preset = %s", p)
	}
	// An unknown driver is its own error only: not also every query missing.
	if err := (Config{Driver: "oracle", DSN: "x", Presets: testPresets()}).Validate(); err == nil || strings.Contains(err.Error(), "queries") {
		t.Fatalf("unknown driver: %v", err)
	}
	q := Config{Driver: DriverSQLServer, MemberKey: "text", Presets: testPresets(), Queries: map[string]string{QueryPing: "SELECT 1"}}.queries()
	if q[QueryPing] != "SELECT 1" || q[QueryMemberByLogin] != "SELECT 't-mssql', 'text'" {
		t.Fatalf("override not applied on top of the preset's member key mode: %v", q)
	}
	// Without presets (type sql): preset none, no member key, no built-in accounts.
	if c := (Config{Driver: DriverSQLServer}).withDefaults(); c.Preset != PresetNameNone || c.MemberKey != "" || len(c.RefusedLogins) != 0 {
		t.Fatalf("defaults without presets = %+v", c)
	}
	for _, tz := range []string{"", "Local", "UTC", "America/Chicago", "Europe/Berlin"} {
		if _, err := (Config{Timezone: tz}).location(); err != nil {
			t.Errorf("timezone %q: %v", tz, err)
		}
	}
}

func TestGUID(t *testing.T) {
	const canon = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
	for _, in := range []string{canon, strings.ToLower(canon), "{" + canon + "}", " " + canon + " "} {
		g, err := ParseGUID(in)
		if err != nil || g.String() != canon {
			t.Errorf("ParseGUID(%q) = %v, %v", in, g, err)
		}
	}
	for _, in := range []string{"", "6F9619FF8B86D011B42D00C04FC964FF", "6F9619FF-8B86-D011-B42D-00C04FC964FG", "' OR 1=1 --"} {
		if _, err := ParseGUID(in); err == nil {
			t.Errorf("ParseGUID(%q) accepted", in)
		}
	}
	// SQL Server sends uniqueidentifier mixed-endian: the first three groups byte-reversed.
	wire := []byte{0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}
	ms := dialectFor(DriverSQLServer)
	if k, err := ms.asKey(wire, false); err != nil || k != canon {
		t.Fatalf("sqlserver key from wire bytes = %q, %v", k, err)
	}
	g, _ := ParseGUID(canon)
	v, err := ms.guidArg(g).(mssql.UniqueIdentifier).Value()
	if err != nil || string(v.([]byte)) != string(wire) {
		t.Fatalf("sqlserver GUID parameter = % X, want % X", v, wire)
	}
	lite := dialectFor(DriverSQLite)
	if k, err := lite.asKey(strings.ToLower(canon), false); err != nil || k != canon {
		t.Fatalf("sqlite text key = %q, %v", k, err)
	}
	if arg := lite.guidArg(g); arg != canon {
		t.Fatalf("sqlite GUID parameter = %v", arg)
	}
	if _, err := lite.asKey("12345", false); err == nil {
		t.Fatal("non-GUID key accepted with key_format guid")
	}
	if k, err := lite.asKey(int64(12345), true); err != nil || k != "12345" {
		t.Fatalf("text key = %q, %v", k, err)
	}
	if _, err := lite.asKey(nil, true); err == nil {
		t.Fatal("NULL key accepted")
	}
}

func TestTimes(t *testing.T) {
	chicago, _ := time.LoadLocation("America/Chicago")
	wall := time.Date(2025, 7, 1, 9, 30, 0, 0, chicago)
	for _, in := range []any{
		time.Date(2025, 7, 1, 9, 30, 0, 0, time.UTC), // SQL Server datetime: wall clock in a UTC time.Time
		"2025-07-01 09:30:00.000",                    // SQLite text
		[]byte("2025-07-01T09:30:00"),
		time.Date(2025, 7, 1, 14, 30, 0, 0, time.FixedZone("", 0)).In(time.FixedZone("+05", 5*3600)), // datetimeoffset: an instant
	} {
		got, err := asTime(in, chicago)
		if err != nil || !got.Equal(wall) || got.Location() != chicago {
			t.Errorf("asTime(%v) = %v, %v; want %v", in, got, err, wall)
		}
	}
	for _, in := range []any{nil, "", "1754-01-01 00:00:00.000", time.Date(1754, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, err := asTime(in, chicago); err != nil || !got.IsZero() {
			t.Errorf("asTime(%v) = %v, %v; want zero (NULL or ASP.NET's never)", in, got, err)
		}
	}
	if _, err := asTime("yesterday", chicago); err == nil {
		t.Error("garbage datetime accepted")
	}
	// datetime parameters: wall clock for SQL Server, text in the AMS zone for SQLite.
	p := dialectFor(DriverSQLServer).timeArg(wall)
	if dt, ok := p.(mssql.DateTime1); !ok || time.Time(dt).Hour() != 9 {
		t.Errorf("sqlserver time parameter = %#v", p)
	}
	if s := dialectFor(DriverSQLite).timeArg(wall); s != "2025-07-01 09:30:00.000" {
		t.Errorf("sqlite time parameter = %v", s)
	}
}

func TestScalars(t *testing.T) {
	for in, want := range map[any]bool{true: true, false: false, int64(1): true, int64(0): false, "1": true, "0": false, "true": true, "N": false} {
		if b, null, err := asBool(in); err != nil || null || b != want {
			t.Errorf("asBool(%v) = %v %v %v", in, b, null, err)
		}
	}
	if _, null, _ := asBool(nil); !null {
		t.Error("NULL bit not reported")
	}
	if _, _, err := asBool("maybe"); err == nil {
		t.Error("asBool accepted garbage")
	}
	if n, _, err := asInt(" 2 "); err != nil || n != 2 {
		t.Errorf("asInt = %v %v", n, err)
	}
	if _, null, _ := asInt(nil); !null {
		t.Error("NULL int not reported")
	}
}

func TestNormalizeLogin(t *testing.T) {
	for in, want := range map[string]string{" alice ": "alice", "zoe\u0308": "zoë", "ZOË": "ZOË", "a b": "a b"} {
		if got, ok := normalizeLogin(in); !ok || got != want {
			t.Errorf("normalizeLogin(%q) = %q %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "  ", "a\x00", "a\xff", "a\x1b", strings.Repeat("x", MaxLoginRunes+1), strings.Repeat("x", 100_000), "a\ufffdb"} {
		if got, ok := normalizeLogin(in); ok {
			t.Errorf("normalizeLogin(%.20q) = %q accepted", in, got)
		}
	}
	if _, ok := normalizeLogin(strings.Repeat("é", MaxLoginRunes)); !ok {
		t.Error("a login of exactly MaxLoginRunes refused")
	}
}

func TestConfigFromYAML(t *testing.T) {
	var doc struct {
		Legacy Config `yaml:"legacy"`
	}
	src := `
legacy:
  driver: sqlserver
  dsn: sqlserver://bridge:secret@ams:1433?database=iMIS
  max_open_conns: 20
  max_idle_conns: 4
  conn_max_lifetime: 1h
  query_timeout: 3s
  password_max_age: 2160h
  password_max_age_sysadmin: 0s
  hash_algorithm: HMACSHA256
  timezone: America/Chicago
  cache_ttl: 90s
  cache_size: 500
  key_format: guid
  queries:
    ping: SELECT 1 AS ok
  extra_columns: [chapter, title]
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Legacy
	c.Presets = testPresets()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.QueryTimeout != 3*time.Second || c.PasswordMaxAge == nil || *c.PasswordMaxAge != 90*24*time.Hour ||
		c.PasswordMaxAgeSysAdmin == nil || *c.PasswordMaxAgeSysAdmin != 0 || c.ConnMaxLifetime != time.Hour ||
		c.CacheTTL != 90*time.Second || c.MaxOpenConns != 20 || c.Queries[QueryPing] != "SELECT 1 AS ok" ||
		!slices.Equal(c.ExtraColumns, []string{"chapter", "title"}) {
		t.Fatalf("decoded %+v", c)
	}
}
