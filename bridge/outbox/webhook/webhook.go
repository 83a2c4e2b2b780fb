package webhook

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/wire"
)

// Kind is the kind's name.
const Kind = "webhook"

// Config is a Standard Webhooks receiver.
type Config struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"` // whsec_<base64 of at least 24 bytes>
}

// NewConfig is the outbox.Kind of webhook targets.
func NewConfig() outbox.Settings { return &Config{} }

// Kind returns "webhook".
func (c *Config) Kind() string { return Kind }

// Validate checks url and secret.
func (c *Config) Validate(prefix string) error {
	if err := outbox.CheckURL(c.URL); err != nil {
		return fmt.Errorf("%s.url: %q: %w", prefix, c.URL, err)
	}
	if _, err := wire.ParseSecret(c.Secret); err != nil {
		return fmt.Errorf("%s.secret: %w", prefix, err)
	}
	return nil
}

// Deliverer POSTs each event's stored JSON, signed.
func (c *Config) Deliverer(d outbox.Deps) outbox.Deliverer {
	return &deliverer{cfg: c, http: d.HTTP, now: d.Now}
}

type deliverer struct {
	cfg  *Config
	http *outbox.Sender
	now  func() time.Time
}

// Deliver POSTs the stored event, signed per Standard Webhooks.
func (d *deliverer) Deliver(ctx context.Context, e *store.OutboxEvent) error {
	key, err := wire.ParseSecret(d.cfg.Secret)
	if err != nil {
		return outbox.Permanent("webhook secret: %v", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	wire.SignHeaders(h, key, e.ID, d.now(), e.Payload)
	resp, body, err := d.http.Do(ctx, http.MethodPost, d.cfg.URL, h, e.Payload)
	if err != nil {
		return err
	}
	return outbox.Status("webhook", resp, body)
}
