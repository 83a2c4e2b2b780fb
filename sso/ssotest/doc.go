// Package ssotest holds test scaffolding for OAuth clients' encodings, shared by the protocol
// tests in sso and the bridge's end-to-end tests. It is not used by production code.
package ssotest
