package sqldir

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"gopkg.in/yaml.v3"
)

func TestValidateNamesTheField(t *testing.T) {
	ok := Config{Driver: DriverSQLServer, DSN: "sqlserver://u:p@h?database=iMIS"}
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
		{func(c *Config) { c.Preset = "netforum" }, "legacy.preset: unknown preset"},
		{func(c *Config) { c.QueryTimeout = -time.Second }, "legacy.query_timeout: must be positive"},
		{func(c *Config) { c.MaxOpenConns = -1 }, "legacy.max_open_conns: must not be negative"},
		{func(c *Config) { c.MaxIdleConns = -1 }, "legacy.max_idle_conns: must not be negative"},
		{func(c *Config) { c.ConnMaxLifetime = -1 }, "legacy.conn_max_lifetime: must not be negative"},
		{func(c *Config) { c.PasswordMaxAge = -1 }, "legacy.password_max_age: must not be negative"},
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

func TestDefaults(t *testing.T) {
	c := Config{Driver: DriverSQLServer, DSN: "x"}.withDefaults()
	if c.QueryTimeout != 5*time.Second || c.Preset != PresetNameIMIS || c.KeyFormat != "guid" ||
		c.CacheTTL != DefaultCacheTTL || c.MaxOpenConns != DefaultMaxOpenConns || !slices.Contains(c.RefusedLogins, "IMISLOG") {
		t.Fatalf("defaults = %+v", c)
	}
	if p := (Config{Driver: DriverSQLite}).withDefaults().Preset; p != PresetNameIMISSQLite {
		t.Fatalf("sqlite default preset = %s", p)
	}
	q := Config{Driver: DriverSQLServer, Queries: map[string]string{QueryPing: "SELECT 1"}}.queries()
	if q[QueryPing] != "SELECT 1" || q[QueryMemberByLogin] != PresetIMIS()[QueryMemberByLogin] {
		t.Fatal("override not applied on top of the preset")
	}
	for _, tz := range []string{"", "Local", "UTC", "America/Chicago", "Europe/Berlin"} {
		if _, err := (Config{Timezone: tz}).location(); err != nil {
			t.Errorf("timezone %q: %v", tz, err)
		}
	}
}

var aliasRE = regexp.MustCompile(`(?i)\bAS\s+([a-z_][a-z0-9_]*)\s*(,|\n|$)`)

// aliases lists the result column aliases of a query's select list.
func aliases(q string) []string {
	if i := regexp.MustCompile(`\nFROM\s`).FindStringIndex(q); i != nil {
		q = q[:i[0]] + "\n"
	}
	var out []string
	for _, m := range aliasRE.FindAllStringSubmatch(q, -1) {
		out = append(out, strings.ToLower(m[1]))
	}
	return out
}

// The SQLite preset must return exactly the columns of the SQL Server one.
func TestPresetsHaveTheSameColumns(t *testing.T) {
	ms, lite := PresetIMIS(), PresetIMISSQLite()
	for _, name := range QueryNames() {
		a, b := aliases(ms[name]), aliases(lite[name])
		if len(a) == 0 || !slices.Equal(a, b) {
			t.Errorf("%s: columns differ:\n sqlserver %v\n sqlite    %v", name, a, b)
		}
	}
	login := aliases(ms[QueryMemberByLogin])
	for _, c := range append(append([]string{}, requiredColumns...), hashColumns...) {
		if !slices.Contains(login, c) && !slices.Contains(login, c+utcSuffix) {
			t.Errorf("member_by_login lacks %s", c)
		}
	}
	for _, c := range optionalColumns {
		if c != colPicture && !slices.Contains(login, c) && !slices.Contains(login, c+utcSuffix) {
			t.Errorf("member_by_login lacks %s", c)
		}
	}
	for _, name := range []string{QueryMemberByKey, QueryMemberByID, QueryChangedSince} {
		cols := aliases(ms[name])
		for _, c := range hashColumns {
			if slices.Contains(cols, c) {
				t.Errorf("%s returns %s: only member_by_login reads passwords", name, c)
			}
		}
	}
}

// The T-SQL preset stays in the subset the fake TDS server rewrites: parameters, no string
// building, no vendor functions beyond the listed ones.
func TestIMISPresetIsSimpleTSQL(t *testing.T) {
	for name, q := range PresetIMIS() {
		if strings.Contains(q, "?") || strings.Contains(q, "%s") || strings.Contains(q, "+ @") {
			t.Errorf("%s: placeholder or string building in %q", name, q)
		}
		for _, banned := range []string{"GREATEST(", "CROSS APPLY", "OUTER APPLY", "FOR JSON", "STRING_AGG", "IIF("} {
			if strings.Contains(strings.ToUpper(q), banned) {
				t.Errorf("%s uses %s", name, banned)
			}
		}
		if name != QueryPing && name != QueryAppClock && !strings.Contains(q, "@p1") {
			t.Errorf("%s has no @p1 parameter", name)
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
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.QueryTimeout != 3*time.Second || c.PasswordMaxAge != 90*24*time.Hour || c.ConnMaxLifetime != time.Hour ||
		c.CacheTTL != 90*time.Second || c.MaxOpenConns != 20 || c.Queries[QueryPing] != "SELECT 1 AS ok" ||
		!slices.Equal(c.ExtraColumns, []string{"chapter", "title"}) {
		t.Fatalf("decoded %+v", c)
	}
}
