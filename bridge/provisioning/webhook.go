package provisioning

import (
	"context"
	"net/http"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// deliverWebhook POSTs the stored event, signed per Standard Webhooks.
func (s *Service) deliverWebhook(ctx context.Context, t *WebhookTarget, e *store.OutboxEvent) error {
	key, err := WebhookKey(t.Secret)
	if err != nil {
		return permanent("webhook secret: %v", err)
	}
	at := s.now()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("webhook-id", e.ID)
	h.Set("webhook-timestamp", itoa(at.Unix()))
	h.Set("webhook-signature", SignWebhook(key, e.ID, at, e.Payload))
	resp, body, err := s.do(ctx, http.MethodPost, t.URL, h, e.Payload)
	if err != nil {
		return err
	}
	return statusError("webhook", resp, body)
}
