package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ssobridge/ssobridge/wire"
)

// VerifyWebhook checks a Standard Webhooks message signed with secret ("whsec_<base64>"):
// see wire.Verify.
func VerifyWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := wire.ParseSecret(secret)
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	return wire.Verify(key, h, body, now)
}

// WebhookHandler receives the bridge's signed pushes: de-duplicated by webhook-id, upserted
// into the shadow users (an inactive user's local sessions end).
func (c *Consumer) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if c.cfg.WebhookSecret == "" {
			http.Error(w, "webhooks are not configured", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		ctx := r.Context()
		if err := VerifyWebhook(c.cfg.WebhookSecret, r.Header, body, c.now()); err != nil {
			c.log.WarnContext(ctx, "consumer: webhook refused", "err", err)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var ev wire.Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.Data.Subject == "" {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		if err := c.applyPush(ctx, r.Header.Get(wire.HeaderID), ev); err != nil {
			c.log.ErrorContext(ctx, "consumer: webhook failed", "event", ev.ID, "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (c *Consumer) applyPush(ctx context.Context, id string, ev wire.Event) error {
	// An event already applied is not applied again (a redelivery, or a replay of a captured
	// request inside the signature's time window).
	var n int
	if err := c.db.QueryRowContext(ctx, c.q(`SELECT COUNT(*) FROM sso_seen WHERE id = ?`), "webhook:"+id).Scan(&n); err != nil {
		return fmt.Errorf("consumer: seen: %w", err)
	}
	if n > 0 {
		c.log.InfoContext(ctx, "consumer: duplicate push ignored", "event", id)
		return nil
	}
	// Upsert first, then remember the id: a crash in between makes a retry apply it again,
	// which is harmless (the upsert is idempotent); the reverse order could lose it.
	u, err := userOf(ev.Data)
	if err != nil {
		return err
	}
	u.PushedAt = ev.Timestamp
	if err := c.UpsertUser(ctx, u); err != nil {
		return err
	}
	dup, err := c.seen(ctx, "webhook:"+id)
	if err != nil {
		return err
	}
	c.log.InfoContext(ctx, "consumer: push applied", "event", id, "type", ev.Type, "subject", u.Subject, "duplicate", dup)
	return nil
}

// userOf is the shadow user of a pushed User (webhook or SCIM): the membership is kept as the
// JSON of wire.Membership whichever way it came.
func userOf(w wire.User) (User, error) {
	u := User{Subject: w.Subject, Login: w.Login, Email: w.Email, Name: w.Name, GivenName: w.GivenName,
		FamilyName: w.FamilyName, Picture: w.Picture, Active: w.Active, Roles: w.Roles}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	if w.Membership != nil {
		b, err := json.Marshal(w.Membership)
		if err != nil {
			return User{}, fmt.Errorf("consumer: membership: %w", err)
		}
		u.Membership = b
	}
	return u, nil
}
