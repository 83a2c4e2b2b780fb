// Package demo is a demo association-management system: an SQLite database (modernc.org/sqlite,
// pure Go) with iMIS-shaped tables (UserMain, ContactMain, ContactStatusRef, aspnet_Applications,
// aspnet_Users, aspnet_Membership, Name, RoleMain, UserRole) declared with SQL Server's column
// type names, created and seeded when opened, and read through the same sqldir directory as
// a real iMIS (with the SQLite variant of the iMIS preset).
//
// The seeded members exercise every sign-in rule; Logins lists them with their passwords and
// expected outcomes (for the server's demo banner and the README). Set* helpers change a
// member and bump its change time, for tests of change polling.
//
// Demo data only: passwords are public, and Open re-seeds the database every time.
package demo
