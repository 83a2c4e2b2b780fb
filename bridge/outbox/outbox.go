package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Deliverer delivers one event to one target. An error that Permanent made (or that
// IsPermanent reports) sends the event to the dead-letter state at once; any other is retried.
type Deliverer interface {
	Deliver(ctx context.Context, e *store.OutboxEvent) error
}

// DeliverFunc adapts a function to Deliverer.
type DeliverFunc func(ctx context.Context, e *store.OutboxEvent) error

// Deliver calls f.
func (f DeliverFunc) Deliver(ctx context.Context, e *store.OutboxEvent) error { return f(ctx, e) }

// Kind is a kind of provisioning target: it returns a new, empty config section of the kind
// for the target's YAML to be decoded into.
type Kind func() Settings

// Settings is the config section of one provisioning target of a kind.
type Settings interface {
	// Kind is the kind's name: the key of its section, its `type:` and the channel of its events.
	Kind() string
	// Validate checks the section; every error names its field below prefix
	// ("provisioning.<client>.<kind>").
	Validate(prefix string) error
	// Deliverer builds the target's deliverer (the section is valid).
	Deliverer(d Deps) Deliverer
}

// Deps are what deliverers may use.
type Deps struct {
	// Store holds the shadow users (a SCIM deliverer remembers the server's id there).
	Store store.Store
	// HTTP sends requests with the per-request timeout and without following redirects.
	HTTP *Sender
	// Now is the clock.
	Now func() time.Time
	// Log is where a deliverer says what its outcome does not (nil: nowhere).
	Log *slog.Logger
}

// NewEventID returns a new random event id ("evt_" and 32 characters).
func NewEventID() string { return "evt_" + sso.RandomToken()[:32] }

// Key is the ordering key of an event: its channel, client and member. Events of one key are
// delivered one at a time, oldest first.
func Key(channel, clientID, subject string) string {
	return channel + "|" + clientID + "|" + subject
}

// SessionKey is the key of an event about one session of a member at a client (a logout
// naming its sid or SessionIndex): each session's events are ordered apart, and one session's
// event never supersedes another's (a dead logout stays retriable after a later session's);
// with session "", Key.
func SessionKey(channel, clientID, subject, session string) string {
	if session == "" {
		return Key(channel, clientID, subject)
	}
	return Key(channel, clientID, subject) + "|" + session
}
