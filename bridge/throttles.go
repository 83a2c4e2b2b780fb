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

// newThrottles builds the sign-in throttle (passwords and second factors), the
// client-authentication throttle and the anonymous-write limiter. With sharedThrottles the
// sign-in throttle and the limiter count in the store (names keyed with secret); the
// client-authentication throttle always counts per process: client secrets are at least 32
// characters (config.MinSecretLength) or generated, so N replicas' budgets give no useful
// guesses, while sharing it would cost four statements on every token request (each code
// exchange and refresh).
func newThrottles(cfg Config, d Deps, secret []byte) (signIn, clients *throttle.Throttle, anon *throttle.Limiter) {
	clients = throttle.New(cfg.Throttle)
	if !sharedThrottles(cfg, d) {
		return throttle.New(cfg.Throttle), clients, throttle.NewLimiter(cfg.Throttle.AnonymousWrites)
	}
	return throttle.NewShared(cfg.Throttle, d.Store, secret, "signin"), clients,
		throttle.NewSharedLimiter(cfg.Throttle.AnonymousWrites, d.Store, secret)
}
