// Package webhook is the provisioning target kind "webhook": each event's JSON (wire.Event)
// POSTed to the target's URL, signed per Standard Webhooks (wire.SignHeaders).
//
//	provisioning:
//	  events-app:
//	    type: webhook          # optional when the webhook section is the only one
//	    webhook:
//	      url: https://events.example.org/hooks/ssobridge
//	      secret: ${EVENTS_WEBHOOK_SECRET}   # whsec_<base64 of at least 24 bytes>
package webhook
