// Package legacy is everything ssobridge knows about the association-management system (AMS):
// the member directory contract (small capability interfaces in the style of Dex's connectors),
// the AMS connector (Connector, with optional capabilities found by type assertion: the
// website's hand-off HandoffExchanger, its sign-out LogoutURLer, PageServer, Diagnoser), the
// typed sign-in failures, and, in sub-packages, the connectors: sqldir (the generic SQL
// directory, type sql), imis (the iMIS database through sqldir, its token-endpoint client and a
// simulated website) and demo (the embedded demo database), plus the password hash formats and the profile cache. Every
// implementation of Directory (and every test fake) passes the conformance suite in
// legacy/directorytest. Roles come from the sources in RoleSources; membership standing is
// Member.MembershipAt.
//
// legacy never imports bridge or sso: a Member from here becomes an OIDC subject in bridge.
package legacy
