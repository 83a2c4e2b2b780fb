package bridge

import (
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
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
func newThrottles(cfg Config, d Deps, secret []byte, log *slog.Logger) (signIn, clients *throttle.Throttle, anon *throttle.Limiter) {
	clients = withLogger(throttle.New(cfg.Throttle), log)
	if !sharedThrottles(cfg, d) {
		return withLogger(throttle.New(cfg.Throttle), log), clients, throttle.NewLimiter(cfg.Throttle.AnonymousWrites)
	}
	return withLogger(throttle.NewShared(cfg.Throttle, d.Store, secret, "signin"), log), clients,
		throttle.NewSharedLimiter(cfg.Throttle.AnonymousWrites, d.Store, secret)
}

// withLogger is t logging to the bridge's logger what it does not answer its caller.
func withLogger(t *throttle.Throttle, log *slog.Logger) *throttle.Throttle {
	t.Logger = log
	return t
}

// DeviceGuessesPerMinute is each budget of wrong device user codes for the whole service
// (newDeviceGuesses), on top of the per-address or per-account limit of the sign-in throttle.
const DeviceGuessesPerMinute = 30

// newDeviceNetworks is the throttle of wrong device user codes per IPv6 /48 (authflow's
// Handler.DeviceNetworks), for browsers without a session: the sign-in throttle counts an IPv6
// client by its /64, so a guesser holding a /48 would have 65,536 per-address budgets, and
// could spend the anonymous service-wide one (DeviceGuessesPerMinute) alone, pausing entry for
// everyone without a session. throttle.device_per_network wrong codes within throttle.window,
// then refused for throttle.lockout, shared by replicas as the other counters are.
func newDeviceNetworks(cfg Config, d Deps, secret []byte, log *slog.Logger) *throttle.Throttle {
	tc := config.ThrottleConfig{PerLogin: cfg.Throttle.DevicePerNetwork, PerIP: cfg.Throttle.DevicePerNetwork,
		Window: cfg.Throttle.Window, Lockout: cfg.Throttle.Lockout}
	if !sharedThrottles(cfg, d) {
		return withLogger(throttle.New(tc), log)
	}
	return withLogger(throttle.NewShared(tc, d.Store, secret, "device-net"), log)
}

// newDeviceGuesses is the global throttle of wrong device user codes (RFC 8628 5.1 and 6.1): the
// per-address limit alone does not bound a guesser spread over many addresses. It keeps two
// budgets, each under one key for the whole service: entries from browsers without a session,
// and entries of signed-in members (authflow's deviceBudget), so that a guesser with many
// addresses who spends the first pauses anonymous entry only. Every entry reserves one wrong
// code; a right code takes its reservation back (Release, never Succeed: a code of one's own
// must not reset everyone's count). From half a budget within a minute every entry of it is
// slowed (half a second more per wrong code, three seconds at most); at the budget every entry of
// it is refused for a minute. A user code is 8 of 20 letters (20^8 = 2.56e10), so over a device
// code's whole lifetime (10 minutes by default, an hour at most) at most about 2 x 30 x 61 =
// 3660 guesses are checked, one code's chance of being hit is below 1.5e-7, and a year of
// guessing at both budgets (3.2e7 guesses) hits a live code with probability 1.2e-3 times the
// average number of live codes. On a shared store (replicas) the counters are shared, so N
// replicas do not give N budgets.
func newDeviceGuesses(cfg Config, d Deps, secret []byte, log *slog.Logger) *throttle.Throttle {
	tc := config.ThrottleConfig{PerLogin: DeviceGuessesPerMinute, PerIP: DeviceGuessesPerMinute,
		Window: time.Minute, Lockout: time.Minute}
	if !sharedThrottles(cfg, d) {
		return withLogger(throttle.New(tc), log)
	}
	return withLogger(throttle.NewShared(tc, d.Store, secret, "device"), log)
}
