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
// back-channel logout queued, all in one transaction. Such a deactivation of a member who still
// holds something is done only when a second read of the member from the AMS itself, past the
// profile cache, agrees with the first (confirmRefusal; review s25 Y-7): the poller reads a
// member because the AMS has just written them, and one read can catch a save half done.
// Otherwise nothing is ended and the sync answers ErrRefusalUnconfirmed, to be retried.
//
// Change polling and each reconcile page run one at a time across replicas, under the job lock
// SyncLockName, and move the sync epoch (the watermark SyncEpoch) to odd when they begin and to
// even when they end. A sign-in's Provision takes no lock: it writes the shadow user with a
// compare-and-set of the epoch and the shadow user it read (store.PutShadowUserIf) and reads
// again when either moved; it waits for the lock only while the epoch is odd (a poll at work)
// or after provisionTries refused writes. The poll's progress (store.SetPollProgress), the
// epoch's move at the end and every member write of a poll or reconcile page (shadow users,
// deactivations; review s28 R7-2) are fenced by the epoch the holder set (store.Fence; review
// s27 R5-6): a holder that lost the lock (a PostgreSQL advisory lock's session ended) to
// another, which moved the epoch first, writes none of them, and stops at the first refused.
// See README "Sign-ins against polls and other replicas".
//
// Whether a member may be active at a client is one injected decision (Options.Access, the
// bridge's access.Decide); provisioning does not derive it itself.
//
// The events go to an outbox.Queue (package bridge/outbox) that the composition root builds
// once and hands in (Options.Outbox), with the back-channel logouts queued on it
// (Options.Logouts); Run runs it beside polling and the reconcile and waits for it. Each
// client's target is a registered kind (Kinds: scim, webhook; packages bridge/outbox/scim and
// bridge/outbox/webhook) whose Settings validate themselves and build the target's deliverer
// (Routes); back-channel logout events (bridge/outbox/backchannel) are delivered for every
// client. The payloads are package wire's.
//
// Configuration (top level of the server's file):
//
//	shadow:
//	  poll_interval: 60s     # how often the AMS is asked for changed members
//	  reconcile_interval: 15m   # pause between passes over every member (0: off)
//	  reconcile_rate: 500    # members per second, at most, during a pass
//	  reconcile_batch: 500   # members per AMS query of a pass
//	  reconcile_max_gone: 100   # at most this many deactivated as gone from the AMS per pass (or poll)
//	  max_attempts: 12       # then the event is dead
//	  backoff_min: 10s       # first retry delay; doubles per attempt, with jitter
//	  backoff_max: 1h
//	  timeout: 10s           # per delivery request
//	provisioning:
//	  portal:                # a client id
//	    type: scim           # the kind (optional when the target has one kind's section)
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
