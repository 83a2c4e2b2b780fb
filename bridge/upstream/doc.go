// Package upstream signs members in through upstream OpenID providers (Google, Microsoft Entra
// ID, any OpenID provider by issuer) as a relying party: discovery, the authorization code flow
// with PKCE S256, a nonce, ID token validation with go-oidc, the RFC 9207 iss parameter and the
// ID token's issuer checked against the configured one (mix-up), and upstream back-channel
// logout tokens (OpenID Connect Back-Channel Logout 1.0, 2.6).
//
// An upstream sign-in only proves who the person is: the member, their roles and their standing
// still come from the AMS, through a link (upstream issuer + subject -> member subject) kept in
// the bridge's store (store.UpstreamStore). Nothing is ever created in the AMS. The web side
// (bridge/web/upstream) runs the pending sign-in as a state machine in the store.
package upstream
