// Package session holds the browser's cookie session and CSRF protection: the sealed cookie
// (browser id for CSRF tokens, the SSO session id once signed in, the nonce that binds sign-in
// requests to this browser, the auth request waiting for a hand-off) and the lookup of the
// browser's live SSO session. Everything else about a session lives in the store.
package session
