// Package metrics is the bridge's Prometheus instrumentation: one registry built by the
// composition root (no global default registry), served at /metrics on the admin listener.
//
// The packages that do the work know nothing of Prometheus: each defines a small observer
// interface (web.RequestObserver, signin.Observer, legacy.QueryObserver, sso.TokenObserver,
// outbox.DeliveryObserver) or is read at scrape time (the profile cache's hit counters, the
// outbox's depth, the signing keys), and Metrics implements or reads them.
//
// Labels never carry member data: routes are route templates, queries are the configured
// query names, outcomes and grants are small fixed sets, and client ids are those of
// registered clients (a client must authenticate before a token counts), capped at
// MaxClients distinct values (the rest count as "other"). The hot paths use series resolved
// once and cached (no label hashing or allocation per request).
package metrics
