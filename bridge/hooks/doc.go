// Package hooks is the bridge's implementation of sso.Hooks and its optional capabilities:
// where the OpenID provider asks the product around it about members.
//
//   - Claims: the member behind a subject (subject mapper, then the directory) through the
//     claim policy.
//   - CheckGrant: the refresh, device, password and exchange grants re-check the member with
//     access.Decide (the one decision every path asks).
//   - HasConsent (sso.ConsentChecker): the member's recorded consent covers the scopes.
//   - ClientAuthAttempt/Result (sso.ClientAuthLimiter): failed client authentications are
//     throttled per client and IP.
//   - AuthenticatePassword (sso.PasswordAuthenticator) and ExternalTokenTypes/ExchangeExternal
//     with MayExchangeExternal (sso.ExternalExchanger): delegated to the sign-in flow's password
//     check and the AMS hand-off's token exchange, which own them.
//   - EndSession and Event: the logout page's ticket, and the audit log.
//
// Hooks is a struct of explicit dependencies, built once in the composition root. The client
// IP of a protocol request (which sso does not know: trusted proxies) travels in the request
// context (WithProtocolRequest, ClientIP), with the request's member memo.
package hooks
