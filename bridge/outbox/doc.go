// Package outbox delivers the events that state changes queue in the store's outbox, at
// least once, in order per key (channel, client, member), to registered deliverers.
//
// A Queue claims due events with a lease and hands each to the Deliverer of its route: a
// deliverer of the event's channel for every client (back-channel logout), or the deliverer
// of the client's provisioning target when the target's kind is the event's channel. A
// failure is retried with exponential backoff and jitter; after max_attempts, or at once on a
// permanent refusal (Permanent, or a 4xx other than 408, 409, 425 and 429: Status), the event
// goes to the dead-letter state (`ssobridge shadow retry` re-queues it); a deliverer that finds
// nothing to send (ErrNothingToSend) has the event recorded skipped, neither delivered nor
// retried. A claimed delivery runs to its end even when the queue stops, and Run returns once it is recorded. Four workers
// each claim the next due event as they come free, at most two of one client at a time (a
// sign-in's synchronous delivery, Queue.DeliverKey, counted with them: it waits for a place),
// so a target that does not answer (each request waiting for shadow.timeout) holds two workers,
// not every app's deliveries. The store's claim prefers the clients with nothing in flight, and the
// last free worker takes only the events of a client with nothing in flight whose latest
// delivery did not fail: up to three slow targets hold a worker each and another app's events
// (a back-channel logout) still go out at once; more slow targets share three workers once
// their first deliveries have failed, and the last stays free for the others. Only a failure
// retried that took time counts (a second, or half shadow.timeout: a refusal for good, or a 503
// answered at once, is an answer), a synchronous delivery at sign-in (Queue.DeliverKey) as much
// as a worker's, and a client is forgotten once none of its events is pending (all dead, or its
// app removed: Queue.ForgetIdleClients when clients change) or no retry came within backoff_max
// and a lease of its failure.
//
// A kind of provisioning target (Kind) is a function returning the empty config section of
// the kind (Settings): decoded from the target's YAML, it validates itself naming its fields
// and builds the target's Deliverer. The kinds live in their own packages (outbox/scim,
// outbox/webhook); the registry is a map literal returned by provisioning.Kinds. Package
// outbox/backchannel builds and delivers OIDC Back-Channel Logout events.
package outbox
