// Package sqldir is the member directory (legacy.Directory) over a SQL database: one
// implementation, driven by a set of named queries and a column contract (see queries.go), on
// SQL Server (driver "sqlserver", github.com/microsoft/go-mssqldb) or SQLite (driver "sqlite").
// It knows no AMS: a connector package hands it its built-in query sets as Preset values
// (Config.Presets: queries per member key mode, built-in accounts, diagnostic probes); package
// legacy/imis does so for iMIS on SQL Server and for the demo AMS in SQLite (package
// legacy/demo). Type sql (Generic) is the directory with no preset.
//
// The directory only reads (it never calls iMIS's login procedures, which write). Authenticate
// costs at most two round trips (member, hash and status in one query; roles in a second), and
// every lookup returns the member with its roles, built from the sources iMIS uses
// (legacy.RoleSources, switchable with role_sources). It verifies passwords with package legacy/password,
// spends the same verification time for unknown logins, applies the status rules
// (legacy.Standing.Check) only after the password verified, and maps every infrastructure
// failure to legacy.ErrUnavailable. Logins are trimmed, NFC-normalised and length-capped;
// invalid input is refused without a query. Values from outside are always query parameters.
//
// Two clocks (clock.go): iMIS's own datetime columns hold its application time, UTC plus the
// fixed offset in SystemConfig (query app_clock, re-read every AppClockRefresh), and the
// aspnet_Membership columns hold UTC (column aliases ending in _utc). Each column is read in its
// own clock, so members' times are instants; change watermarks are UTC.
//
// The member key is the queries' user_key column; a preset may offer modes of it
// (legacy.member_key, Preset.MemberKeys), some of them lower-case text (Preset.TextKeys).
//
// Driver-specific details are kept small (values.go): on SQL Server, GUID parameters and
// columns use mssql.UniqueIdentifier with the default DSN (no "guid conversion"), and
// datetime parameters are sent as mssql.DateTime1 built from the wall clock of the column's
// clock.
//
// The directory passes the conformance suite of legacy.Directory (legacy/directorytest)
// through go-mssqldb and the fake TDS server, and over the SQLite demo.
//
// Diagnose runs every configured query for one login and explains what the bridge would see,
// for the "ssobridge legacy check" command.
package sqldir
