// Package imis is the iMIS connector: the iMIS member database (package legacy/sqldir with the
// iMIS presets of preset.go: the queries on SQL Server and, for the demo, in SQLite; the member
// key modes provider_key and contact_key; iMIS's built-in accounts; the login-chain probes of
// "ssobridge legacy check") and, when the AMS website is configured, its single sign-on hand-off (the SSO
// iPart's refresh token redeemed at the website's token endpoint, sub-package token) and its
// sign-out page for single sign-off. Sub-package sim simulates an iMIS website for the demo
// and for tests.
//
// Config is the `legacy:` section of type imis (with the website from the top-level `ams:`
// section); Config.Open returns a legacy.Connector whose optional capabilities
// (legacy.HandoffExchanger, legacy.LogoutURLer, legacy.Diagnoser) the bridge finds by type
// assertion.
package imis
