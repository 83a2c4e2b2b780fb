// Package sso is ssobridge's OpenID Connect provider, built on github.com/zitadel/oidc/v3/pkg/op:
// it implements op's storage, keys, clients and claims contracts, lets op run the authorization
// flow, end_session, userinfo, introspection and revocation, and runs the rest itself.
//
//   - provider.go: New and the HTTP surface (routes, one line per endpoint), with the request
//     checks op does not make and the few wrappers of op's answers it offers no hook for.
//   - opserver.go: op's server (op.LegacyServer) extended by embedding; single methods
//     overridden (discovery, JWKS).
//   - token_endpoint.go: the token endpoint. Client authentication (client_auth.go), the
//     grant_type lookup, whether the client may use it, the scope parameter and the RFC 6749
//     error answers happen there once; each grant is one grant_*.go file implementing
//     tokenGrant, registered in tokenGrants. Tokens are issued through op's token creation
//     (token_response.go) on the storage (storage.go): a grant's family is one stored row;
//     refresh tokens name their family and generation, access tokens describe themselves
//     (access_token_id.go) and are checked against their family.
//   - discovery.go: the discovery document, a typed value rendered once.
//   - client.go: ClientConfig, a relying party at run time (no YAML or JSON shape: the bridge's
//     config file and admin API have their own types), validated when the Registry
//     (registry.go) takes it; client_record.go is a dynamic client's stored JSON.
//
// Persistence is behind Store (store.go), with its conformance suite in sso/storetest; the
// bridge supplies the production implementation (SQLite), sso/memstore an in-memory one for
// tests. The member-facing parts (login pages, claims policy) come from the bridge through Hooks
// and its optional capabilities. sso never imports bridge or legacy.
package sso
