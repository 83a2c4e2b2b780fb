// Package sso is ssobridge's OpenID Connect provider: it implements the storage, keys, clients
// and claims contracts of github.com/zitadel/oidc/v3/pkg/op and leaves the protocol itself
// (discovery, authorize, token, userinfo, introspection, revocation, end_session) to op.
//
// Persistence is behind Store (store.go); the bridge supplies the implementation (SQLite now)
// and the member-facing parts (login pages, claims policy) through the interfaces in
// provider.go. sso never imports bridge or legacy.
package sso
