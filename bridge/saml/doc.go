// Package saml is the bridge's SAML 2.0 identity provider, for the apps that speak nothing
// else. It is built on github.com/crewjam/saml: the library parses and verifies AuthnRequests
// and LogoutRequests (signatures, destinations, validity windows, ACS matching against the
// SP's metadata) and makes and signs assertions and responses; this package supplies what the
// library leaves to its user, from the bridge's own parts:
//
//   - the service providers (Registry): from the configuration file (saml.service_providers)
//     and from the store (registered with the CLI from metadata read once at registration);
//   - the signing keys (KeyRing): RSA key pairs with self-signed certificates, sealed at rest
//     under the key-encryption key like the OIDC keys, rotated with an overlap during which
//     both certificates are in the metadata;
//   - the member: the SSO session is the bridge's member session (the OIDC apps' session), the
//     NameID is the member's subject (the one the OIDC apps get) or e-mail address, the
//     attributes are the claims of the same claim policy as OIDC clients (policies.<sp id>),
//     and the same access rule decides (access.Decider);
//   - the web part (Handler): metadata, SP-initiated sign-in (HTTP-Redirect and HTTP-POST),
//     IdP-initiated sign-in, single logout both ways.
//
// Every sign-in is a state machine in the store (store.SAMLRequest): pending, bound to the
// browser that first opened it, done once (compare-and-set).
package saml
