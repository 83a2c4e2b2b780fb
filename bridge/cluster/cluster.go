package cluster

import (
	"context"
	"io"
)

// Leases run work on one replica at a time.
type Leases interface {
	// Lead runs fn whenever this replica holds the named lease, until ctx ends. fn's context is
	// cancelled when the lease is lost (the holder's database session ended) or ctx ends; fn
	// must then return promptly. When fn returns on its own the lease is released and taken again
	// (by any replica) after the retry interval. Lead returns once ctx has ended and fn has
	// returned.
	Lead(ctx context.Context, name string, fn func(ctx context.Context))
	// TryLock takes the named lease without waiting: ok is false when another holder (on any
	// replica, or the CLI) has it. release gives it back. It matches provisioning.JobLock.
	TryLock(ctx context.Context, name string) (release func(), ok bool, err error)
}

// Notifier tells every replica that something they cache changed.
type Notifier interface {
	// Notify tells the subscribers of topic on every replica (this one included) that it
	// changed. Call it after the change is committed. This replica's subscribers have been
	// called when it returns, so that the caller finds its own change at once; the others'
	// are called soon after. A cancelled ctx does not stop it (the change is committed):
	// the subscribers get ctx's values without its cancellation, bounded by the node.
	Notify(ctx context.Context, topic string) error
	// Subscribe calls fn after each Notify of topic, and also when a notification may have
	// been missed (after a reconnection) and every fallback interval: fn checks a version and
	// reloads when it changed. Errors are logged. cancel stops the calls.
	Subscribe(topic string, fn func(ctx context.Context) error) (cancel func())
}

// Node is one replica's view of the cluster. Close releases its leases and stops its
// subscriptions.
type Node interface {
	Leases
	Notifier
	io.Closer
}

// Topics of change notifications.
const (
	// TopicClients: a dynamic client was created, updated or deleted (the store's
	// ClientsVersion moved).
	TopicClients = "clients"
	// TopicKeys: a signing key was created or retired.
	TopicKeys = "keys"
	// TopicSAML: a SAML service provider was registered or removed (saml.Registry).
	TopicSAML = "saml"
)
