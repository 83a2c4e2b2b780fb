// Package provisioning keeps the "shadow" users of consumer apps right and makes sign-out and
// deactivation reach every app.
//
// A Service provisions a member to a client just in time at their sign-in (Provision), polls
// the AMS for changed members (Poll), periodically reconciles every member the AMS lists
// (Reconcile: what leaves no change timestamp, and members who disappeared) and, for every
// shadow user of theirs, compares a digest of the member's view for that client with the
// stored one; a real change writes the new digest and an outbox event in one transaction. A member who may no longer sign in (disabled, locked
// out, deleted...) or, at a client whose target says require_current, whose membership lapsed,
// is deactivated there: shadow user inactive, sessions ended, refresh and access tokens revoked,
// back-channel logout queued, all in one transaction.
//
// A deliverer (Run) claims due events from the outbox with a lease and delivers them at least
// once, in order per member and client, with exponential backoff and jitter, to:
//
//   - SCIM 2.0 (RFC 7643/7644): the user is upserted to its current state, POST /Users when the
//     server does not know it yet (found by externalId = subject), else PUT or PATCH
//     /Users/{id}; deactivation sends active=false; roles go in the user's roles attribute and,
//     with groups: true, as /Groups memberships. The id the server returns is remembered.
//   - a webhook: the JSON event (id, type, timestamp, data) signed per Standard Webhooks
//     (webhook-id, webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256>").
//   - OIDC Back-Channel Logout 1.0: a logout token, signed at delivery, POSTed as logout_token.
//
// After max_attempts failures, or at once on a permanent refusal (a 4xx other than 408, 409
// and 429), an event goes to the dead-letter state; `ssobridge shadow retry` re-queues it.
//
// Configuration (top level of the server's file):
//
//	shadow:
//	  poll_interval: 60s     # how often the AMS is asked for changed members
//	  reconcile_interval: 15m   # pause between passes over every member (0: off)
//	  reconcile_rate: 500    # members per second, at most, during a pass
//	  reconcile_batch: 500   # members per AMS query of a pass
//	  max_attempts: 12       # then the event is dead
//	  backoff_min: 10s       # first retry delay; doubles per attempt, with jitter
//	  backoff_max: 1h
//	  timeout: 10s           # per delivery request
//	provisioning:
//	  portal:                # a client id
//	    sync: true           # provision before the code is issued; a failure stops the sign-in
//	    require_current: true   # a lapsed member is deactivated at this client
//	    scim:
//	      url: https://portal.example.org/scim/v2
//	      token: ${PORTAL_SCIM_TOKEN}
//	      update: put        # put (default) or patch
//	      groups: true       # also keep /Groups memberships (one group per role)
//	  events-app:
//	    webhook:
//	      url: https://events.example.org/hooks/ssobridge
//	      secret: ${EVENTS_WEBHOOK_SECRET}   # whsec_<base64>
package provisioning
