package provisioning

import (
	"context"
	"net/http"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/wire"
)

// deliverWebhook POSTs the stored event, signed per Standard Webhooks.
func (s *Service) deliverWebhook(ctx context.Context, t *WebhookTarget, e *store.OutboxEvent) error {
	key, err := wire.ParseSecret(t.Secret)
	if err != nil {
		return permanent("webhook secret: %v", err)
	}
	at := s.now()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	wire.SignHeaders(h, key, e.ID, at, e.Payload)
	resp, body, err := s.do(ctx, http.MethodPost, t.URL, h, e.Payload)
	if err != nil {
		return err
	}
	return statusError("webhook", resp, body)
}
