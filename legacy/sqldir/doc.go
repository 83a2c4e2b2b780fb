// Package sqldir is the member directory (legacy.Directory) over a SQL database: one
// implementation, driven by a set of named queries and a column contract (see
// preset_imis.go), used for iMIS on SQL Server (driver "sqlserver", github.com/microsoft/go-mssqldb)
// and for the demo AMS in SQLite (driver "sqlite", package legacy/demo).
//
// The directory only reads. Authenticate costs at most two round trips (member, hash and
// status in one query; roles in a second), verifies passwords with package legacy/password,
// spends the same verification time for unknown logins, applies the status rules
// (legacy.Standing.Check) only after the password verified, and maps every infrastructure
// failure to legacy.ErrUnavailable. Logins are trimmed, NFC-normalised and length-capped;
// invalid input is refused without a query. Values from outside are always query parameters.
//
// Driver-specific details are kept small (values.go): on SQL Server, GUID parameters and
// columns use mssql.UniqueIdentifier with the default DSN (no "guid conversion"), and
// datetime parameters are sent as mssql.DateTime1 built from the AMS's wall clock, because
// iMIS stores local wall-clock times in datetime columns.
//
// Diagnose runs every configured query for one login and explains what the bridge would see,
// for the "ssobridge legacy check" command.
package sqldir
