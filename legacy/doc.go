// Package legacy is everything ssobridge knows about the association-management system (AMS):
// the member directory contract (small capability interfaces in the style of Dex's connectors),
// the typed sign-in failures, and, in sub-packages, the SQL Server (iMIS) and demo directories,
// the password hash formats, the AMS token-endpoint client and an AMS simulator. Every
// implementation of Directory (and every test fake) passes the conformance suite in
// legacy/directorytest. Roles come from the sources in RoleSources; membership standing is
// Member.MembershipAt.
//
// legacy never imports bridge or sso: a Member from here becomes an OIDC subject in bridge.
package legacy
