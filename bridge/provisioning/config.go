package provisioning

import (
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
)

// Config tunes polling, the reconcile and delivery (YAML: the `shadow:` section).
type Config struct {
	PollInterval time.Duration `yaml:"poll_interval"`
	// ReconcileInterval is the pause between the end of one reconcile pass over every member
	// and the start of the next; 0s disables the reconcile (a bare 0 is not a duration).
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// ReconcileRate bounds a pass: at most this many members read from the AMS per second.
	ReconcileRate int `yaml:"reconcile_rate"`
	// ReconcileBatch is how many members one AMS query of a pass lists (at most ReconcileRate).
	ReconcileBatch int `yaml:"reconcile_batch"`
	// ReconcileMaxGone bounds the members one reconcile pass (over every page, and across
	// restarts and resumes) may deactivate because the AMS no longer knows them; only members
	// with something to end count (an active shadow user, a session, a live grant), not those
	// deactivated before. The page that would go past it stops the pass before deactivating
	// any of its members, with an error naming this setting, and the pass stops there again
	// until it is raised: a wrong, empty or partly restored database is not taken for mass
	// deletions. One change poll is bounded alike.
	ReconcileMaxGone int `yaml:"reconcile_max_gone"`
	// Config tunes the outbox's delivery: max_attempts, backoff_min, backoff_max, timeout.
	outbox.Config `yaml:",inline"`
}

// Defaults returns the defaults: poll every minute, reconcile every member 15 minutes after
// the previous pass at 500 members a second in queries of 500, at most 100 members gone from
// the AMS per pass, and outbox.Defaults.
func Defaults() Config {
	return Config{PollInterval: time.Minute, ReconcileInterval: 15 * time.Minute, ReconcileRate: 500, ReconcileBatch: 500, ReconcileMaxGone: 100,
		Config: outbox.Defaults()}
}

// Validate checks the settings; errors name the field.
func (c *Config) Validate() error {
	if c.PollInterval < time.Second {
		return fmt.Errorf("shadow.poll_interval: must be at least 1s")
	}
	if c.ReconcileInterval != 0 && c.ReconcileInterval < time.Minute {
		return fmt.Errorf("shadow.reconcile_interval: must be 0 (off) or at least 1m")
	}
	if c.ReconcileRate < 1 || c.ReconcileRate > 100000 {
		return fmt.Errorf("shadow.reconcile_rate: must be between 1 and 100000 members per second")
	}
	if c.ReconcileBatch < 1 || c.ReconcileBatch > 5000 {
		return fmt.Errorf("shadow.reconcile_batch: must be between 1 and 5000 members per query")
	}
	if c.ReconcileMaxGone < 1 || c.ReconcileMaxGone > 1000000 {
		return fmt.Errorf("shadow.reconcile_max_gone: must be between 1 and 1000000 members per pass")
	}
	return c.Config.Validate("shadow")
}
