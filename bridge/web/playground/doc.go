// Package playground serves /playground: a page that signs in through the built-in public
// client (authorization code with PKCE from the browser) and shows the tokens and claims.
package playground
