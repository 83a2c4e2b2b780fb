// Package console is the admin console: server-rendered pages on the admin listener for the
// people who run the bridge (clients, sessions and tokens, members, provisioning, the AMS
// connection, the audit log). Everything it does goes through the administration
// (bridge/admin); it never reads the store itself.
//
// Administrators sign in through the bridge itself: the console is an internal confidential
// OIDC client of this bridge (code flow with PKCE S256, go-oidc verifying the ID token), and
// admits a member only when the AMS roles read for their subject include one of the
// configured roles. Its session is a sealed cookie of its own (HttpOnly, SameSite=Strict,
// Secure and __Host- prefixed on https, an idle timeout); every form carries a CSRF token and
// every change is written to the audit log with the administrator's subject. The admin API's
// bearer token is never accepted here, and the console cookie never by the API.
package console
