package outbox

import (
	"fmt"
	"time"
)

// Config tunes delivery (YAML: inline in the `shadow:` section).
type Config struct {
	MaxAttempts int           `yaml:"max_attempts"`
	BackoffMin  time.Duration `yaml:"backoff_min"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// Timeout bounds each delivery request.
	Timeout time.Duration `yaml:"timeout"`
}

// Defaults: 12 attempts from 10 s to 1 h apart, 10 s per request.
func Defaults() Config {
	return Config{MaxAttempts: 12, BackoffMin: 10 * time.Second, BackoffMax: time.Hour, Timeout: 10 * time.Second}
}

// Validate checks the settings; errors name the field under prefix ("shadow").
func (c *Config) Validate(prefix string) error {
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		return fmt.Errorf("%s.max_attempts: must be between 1 and 100", prefix)
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("%[1]s.backoff_min and %[1]s.backoff_max: need 0 < backoff_min <= backoff_max", prefix)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("%s.timeout: must be a positive duration such as 10s", prefix)
	}
	return nil
}
