// Package admin is the administration of an installation: members' grants (refresh-token
// families) and sessions, dynamic clients and their secrets, and the claims preview. One
// Service holds it, built once by the composition root (package bridge) from narrow
// dependencies, and serves both the admin HTTP API (Service.Handler, on its own listener) and
// the CLI (ssobridge tokens|sessions|clients|claims). Every action is written to the audit log
// with its actor.
package admin
