// Package web holds what every browser-facing part of the bridge shares: the echo router with its
// middleware (request id, request log, recover, security headers, client IP from trusted proxies),
// the page renderer over the embedded templates and static files, person-facing error pages, the
// protocol error page and JSON errors. Each part of the web side (session, authflow, logout,
// handoff, account, playground) is a handler with explicit dependencies and a Mount method that
// adds its routes to the router built here; package bridge builds them once and mounts them.
package web
