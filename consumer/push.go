package consumer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pushUser is the user of the bridge's webhook events (bridge/provisioning.User on the wire).
type pushUser struct {
	Subject    string          `json:"subject"`
	Active     bool            `json:"active"`
	Login      string          `json:"login"`
	Email      string          `json:"email"`
	Name       string          `json:"name"`
	GivenName  string          `json:"given_name"`
	FamilyName string          `json:"family_name"`
	Picture    string          `json:"picture"`
	Roles      []string        `json:"roles"`
	Membership json.RawMessage `json:"membership"`
}

type pushEvent struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      pushUser  `json:"data"`
}

// webhookTolerance is how far webhook-timestamp may be from now (Standard Webhooks).
const webhookTolerance = 5 * time.Minute

// VerifyWebhook checks a Standard Webhooks signature: webhook-signature holds one or more
// space-separated "v1,<base64>" of HMAC-SHA256(key, id.timestamp.body), and the timestamp is
// within 5 minutes of now.
func VerifyWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return errors.New("secret must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return errors.New("secret is not base64")
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > webhookTolerance || d < -webhookTolerance {
		return errors.New("webhook-timestamp too far from now")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	}
	return errors.New("no valid signature")
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
		var ev pushEvent
		if err := json.Unmarshal(body, &ev); err != nil || ev.Data.Subject == "" {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		if err := c.applyPush(ctx, r.Header.Get("webhook-id"), ev); err != nil {
			c.log.ErrorContext(ctx, "consumer: webhook failed", "event", ev.ID, "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (c *Consumer) applyPush(ctx context.Context, id string, ev pushEvent) error {
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
	u := ev.Data
	if err := c.UpsertUser(ctx, User{Subject: u.Subject, Login: u.Login, Email: u.Email, Name: u.Name, GivenName: u.GivenName,
		FamilyName: u.FamilyName, Picture: u.Picture, Active: u.Active, Roles: nonNil(u.Roles), Membership: u.Membership,
		PushedAt: ev.Timestamp}); err != nil {
		return err
	}
	dup, err := c.seen(ctx, "webhook:"+id)
	if err != nil {
		return err
	}
	c.log.InfoContext(ctx, "consumer: push applied", "event", id, "type", ev.Type, "subject", u.Subject, "duplicate", dup)
	return nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
