// Package bridge is the product around the protocol: the echo server and its routes, the
// login, consent, logout and hand-off pages, SSO sessions, the claims policy that turns an AMS
// member into a subject and claims, login throttling, and the configuration.
//
// Imports point one way: bridge uses sso (the OpenID provider) and legacy (the AMS); neither
// of them imports bridge.
package bridge
