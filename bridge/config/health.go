package config

import (
	"slices"
	"time"
)

// Readiness checks (health.ready_checks).
const (
	// ReadyStore: a write to the bridge's own store succeeds.
	ReadyStore = "store"
	// ReadyAMS: the AMS answers its cheap ping query within health.timeout.
	ReadyAMS = "ams"
	// ReadyKeys: a signing key that signs now is present for every configured algorithm.
	ReadyKeys = "keys"
)

// ReadyCheckNames are the readiness checks, in the order /readyz reports them.
var ReadyCheckNames = []string{ReadyStore, ReadyAMS, ReadyKeys}

// HealthConfig sets what /readyz checks (/healthz only says that the process answers).
type HealthConfig struct {
	// ReadyChecks are the checks that gate readiness: store, ams and keys (the default: all
	// three). Leave ams out to stay ready through an AMS outage: members with a session and
	// apps holding tokens keep working, new password sign-ins fail with a clear page.
	ReadyChecks []string `yaml:"ready_checks"`
	// Timeout bounds each check (default 2s).
	Timeout time.Duration `yaml:"timeout"`
	// CacheFor is how long one answer of /readyz is reused (default 1s), so that polling it,
	// on the public listener too, cannot load the store or the AMS.
	CacheFor time.Duration `yaml:"cache_for"`
}

// HealthDefaults are the embedded defaults of the health section.
func HealthDefaults() HealthConfig {
	return HealthConfig{ReadyChecks: slices.Clone(ReadyCheckNames), Timeout: 2 * time.Second, CacheFor: time.Second}
}

// Gates reports whether check gates readiness.
func (h *HealthConfig) Gates(check string) bool { return slices.Contains(h.ReadyChecks, check) }

func (h *HealthConfig) check(p *problems) {
	for _, c := range h.ReadyChecks {
		if !slices.Contains(ReadyCheckNames, c) {
			p.addf("health.ready_checks", "%q is not one of store, ams, keys", c)
		}
	}
	if h.Timeout <= 0 || h.Timeout > time.Minute {
		p.addf("health.timeout", "must be positive and at most 1m")
	}
	if h.CacheFor < 0 || h.CacheFor > time.Minute {
		p.addf("health.cache_for", "must be between 0 and 1m")
	}
}
