package bridge

import (
	"github.com/ssobridge/ssobridge/bridge/throttle"
)

// sharedThrottles reports whether the sign-in throttle and the rate limits keep their counters
// in the store: on PostgreSQL, where replicas share it (N replicas must not give N times the
// attempts), or when d asks for it. On SQLite (one process) they stay in memory: the store
// would add writes to every sign-in for nothing (README "Throttling" has the measurement).
func sharedThrottles(cfg Config, d Deps) bool {
	s, ok := d.Store.(interface{ SharedByReplicas() bool })
	return d.SharedThrottles || cfg.StoreConfig().Type == "postgres" || ok && s.SharedByReplicas()
}

// newThrottles builds the sign-in throttle, the client-authentication throttle and the
// anonymous-write limiter, in memory or on the store's counters (sharedThrottles), whose names
// are keyed with secret.
func newThrottles(cfg Config, d Deps, secret []byte) (signIn, clients *throttle.Throttle, anon *throttle.Limiter) {
	st := d.Store
	if !sharedThrottles(cfg, d) {
		return throttle.New(cfg.Throttle), throttle.New(cfg.Throttle), throttle.NewLimiter(cfg.Throttle.AnonymousWrites)
	}
	return throttle.NewShared(cfg.Throttle, st, secret, "signin"), throttle.NewShared(cfg.Throttle, st, secret, "client"),
		throttle.NewSharedLimiter(cfg.Throttle.AnonymousWrites, st, secret)
}
