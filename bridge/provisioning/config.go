package provisioning

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/ssobridge/ssobridge/wire"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Config tunes polling, the reconcile and delivery.
type Config struct {
	PollInterval time.Duration `yaml:"poll_interval"`
	// ReconcileInterval is the pause between the end of one reconcile pass over every member
	// and the start of the next; 0 disables the reconcile.
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// ReconcileRate bounds a pass: at most this many members read from the AMS per second.
	ReconcileRate int `yaml:"reconcile_rate"`
	// ReconcileBatch is how many members one AMS query of a pass lists (at most ReconcileRate).
	ReconcileBatch int           `yaml:"reconcile_batch"`
	MaxAttempts    int           `yaml:"max_attempts"`
	BackoffMin     time.Duration `yaml:"backoff_min"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
	Timeout        time.Duration `yaml:"timeout"`
}

// Defaults returns the defaults: poll every minute, reconcile every member 15 minutes after
// the previous pass at 500 members a second in queries of 500, 12 delivery attempts from
// 10 s to 1 h apart.
func Defaults() Config {
	return Config{PollInterval: time.Minute, ReconcileInterval: 15 * time.Minute, ReconcileRate: 500, ReconcileBatch: 500,
		MaxAttempts: 12, BackoffMin: 10 * time.Second, BackoffMax: time.Hour, Timeout: 10 * time.Second}
}

// Target is where one client's shadow users are provisioned.
type Target struct {
	SCIM    *SCIMTarget    `yaml:"scim"`
	Webhook *WebhookTarget `yaml:"webhook"`
	// Sync provisions before the authorization code is issued; a failure stops the sign-in.
	Sync bool `yaml:"sync"`
	// RequireCurrent deactivates members whose membership lapsed (not paid through today).
	RequireCurrent bool `yaml:"require_current"`
}

// SCIMTarget is a SCIM 2.0 service provider.
type SCIMTarget struct {
	// URL is the base URL (…/scim/v2); /Users and /Groups are below it.
	URL   string `yaml:"url"`
	Token string `yaml:"token"` // bearer token, from ${ENV}
	// Update is "put" (replace, default) or "patch" (RFC 7644 3.5.2 replace operation).
	Update string `yaml:"update"`
	// Groups keeps one /Groups group per role with the member in it.
	Groups bool `yaml:"groups"`
}

// WebhookTarget is a Standard Webhooks receiver.
type WebhookTarget struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"` // whsec_<base64 of at least 24 bytes>
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
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		return fmt.Errorf("shadow.max_attempts: must be between 1 and 100")
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("shadow.backoff_min and shadow.backoff_max: need 0 < backoff_min <= backoff_max")
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("shadow.timeout: must be a positive duration such as 10s")
	}
	return nil
}

// ValidateTargets checks the provisioning targets; errors name the field as
// "provisioning[<client>].<field>".
func ValidateTargets(targets map[string]Target) error {
	ids := make([]string, 0, len(targets))
	for id := range targets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := targets[id]
		field := func(name, msg string, args ...any) error {
			return fmt.Errorf("provisioning[%s].%s: %s", id, name, fmt.Sprintf(msg, args...))
		}
		if id == "" {
			return field("", "empty client id")
		}
		if (t.SCIM == nil) == (t.Webhook == nil) {
			return field("scim", "set exactly one of scim or webhook")
		}
		if t.SCIM != nil {
			if err := checkURL(t.SCIM.URL); err != nil {
				return field("scim.url", "%q: %v", t.SCIM.URL, err)
			}
			if t.SCIM.Token == "" {
				return field("scim.token", "required (a bearer token, e.g. ${PORTAL_SCIM_TOKEN})")
			}
			switch t.SCIM.Update {
			case "", "put", "patch":
			default:
				return field("scim.update", "%q must be put or patch", t.SCIM.Update)
			}
		}
		if t.Webhook != nil {
			if err := checkURL(t.Webhook.URL); err != nil {
				return field("webhook.url", "%q: %v", t.Webhook.URL, err)
			}
			if _, err := wire.ParseSecret(t.Webhook.Secret); err != nil {
				return field("webhook.secret", "%v", err)
			}
		}
	}
	return nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be an absolute URL without credentials or fragment")
	}
	if u.Scheme == "https" {
		return nil
	}
	if _, loop := op.HTTPLoopbackOrLocalhost(raw); u.Scheme == "http" && loop {
		return nil
	}
	return fmt.Errorf("must use https (http only for localhost)")
}
