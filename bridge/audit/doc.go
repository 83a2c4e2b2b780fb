// Package audit writes the bridge's audit log: one Log, built once in the composition root and
// given to every part that records events (sign-in, hand-off, tokens, admin, provisioning).
//
// Write appends an event to the store and logs one line for it; a failed append is logged,
// never fatal to the request. Anonymous and Refused are for rows an anonymous caller causes
// (failed or throttled sign-ins, refused hand-offs, rate-limited requests): they are written
// within the caller's address budget of anonymous writes, so that nobody can fill the audit
// log from outside. Coalesced and Repeated write one row per key and window for events a caller
// may repeat at will about one thing (a client that is not served; a refused refresh of a live
// grant), the metrics still counting each event. Typed logins of failed attempts are never written as typed: callers put a
// keyed hash (identity.LoginHasher) in AuditEvent.Login.
package audit
