// Package throttle holds the bridge's own brakes, in memory (the single-binary sidecar keeps
// no shared state for them):
//
//   - Throttle slows and then refuses sign-in attempts after repeated failures, per typed
//     login (its canonical form, identity.CanonicalLogin), per client IP and per member a login
//     resolved to, within a sliding window (throttle.* in the configuration). It never touches
//     the AMS account, which is read-only.
//   - Limiter counts the writes an anonymous caller makes per key (an endpoint and the client's
//     address, AddressKey) in fixed one-minute windows (throttle.anonymous_writes).
package throttle
