package store

import (
	"context"
	"errors"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// ShadowUser is what the bridge last provisioned of one member at one client ("shadow" user in
// the client's own database): the digest of the payload sent, so that only real changes are
// sent again, and the id the client's SCIM server gave the user.
type ShadowUser struct {
	ClientID string
	Subject  string
	// Digest is the SHA-256 (hex) of the member's view for this client as last queued.
	Digest string
	Active bool
	// View is the payload data last queued (JSON), kept to compute differences (removed roles).
	View []byte
	// ExternalID is the resource id the target returned (SCIM "id"); empty until known.
	ExternalID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Outbox event states.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxDead      = "dead"
	// OutboxSuperseded is an event a later event of its key made pointless before it was sent
	// (OutboxEvent.Supersedes): it is never sent nor retried.
	OutboxSuperseded = "superseded"
	// OutboxSkipped is an event whose deliverer found nothing to send (a logout queued without
	// reading its app, which has no logout URI or is gone): done, never sent nor retried, and
	// purged with the delivered ones (MarkSkipped).
	OutboxSkipped = "skipped"
)

// OutboxEvent is one message to deliver to a client (a SCIM push, a webhook, a back-channel
// logout). Events of the same Key are delivered one at a time, in the order they were written.
type OutboxEvent struct {
	// ID is random and unique; receivers de-duplicate by it (webhook-id).
	ID string
	// Seq orders events; set by the store when the event is written.
	Seq int64
	// Key groups events that must be delivered in order, e.g. "scim|portal|<subject>".
	Key      string
	Type     string // user.created, user.updated, user.deactivated, logout.backchannel
	Channel  string // scim, webhook, backchannel
	ClientID string
	Subject  string
	Payload  []byte // JSON; never secrets (the channel's credentials come from the config)
	// Attempts counts delivery attempts started (a claim counts, so a crash mid-delivery does too).
	Attempts    int
	NextAttempt time.Time
	LeaseUntil  time.Time
	CreatedAt   time.Time
	DeliveredAt time.Time
	State       string // pending, delivered, dead, superseded or skipped (DeliveredAt: when)
	LastError   string
	// Supersedes, when the event is written, names older events of its Key that it makes
	// pointless: it carries the whole state they carried (and what they took away). Those
	// still pending and not in flight become OutboxSuperseded in the same transaction, and
	// Supersedes is left naming only them; one in flight finishes its attempt, and this event
	// waits for it as for any older event of its key: when that attempt is delivered, this
	// event is sent after it; when it fails and would be retried, MarkFailed supersedes it in
	// the transaction that records the failure (ErrSuperseded), and this event is the key's
	// head at once. Only the ids are stored (with the events they name).
	Supersedes []string
	// SupersedesOnFailure is set by the write: the events Supersedes named that were in
	// flight, each superseded if its attempt fails. A write run again (a transaction retried)
	// names these and Supersedes again, so it does the same. Not stored.
	SupersedesOnFailure []string
}

// Claim asks for due events.
type Claim struct {
	Now time.Time
	// Lease is how long the claimed events are reserved for the caller; an event whose lease
	// runs out undelivered (a crash) is claimed again.
	Lease time.Duration
	Limit int
	// Key, when set, claims only that key's pending events, due or not (synchronous delivery).
	Key string
	// ExcludeClients, when set, claims no event of these clients (the delivery queue's
	// targets with as many deliveries in flight as it allows one target: a slow target must
	// not take every worker). Their events stay pending, in order, for a later claim.
	ExcludeClients []string
}

// OutboxFilter selects events for listings; zero fields do not filter. Oldest first.
type OutboxFilter struct {
	State    string
	ClientID string
	Subject  string
	Limit    int // default 100
	Key      string
}

// Deactivation is what ending a member's access writes in one transaction.
type Deactivation struct {
	Subject string
	// EndSessions ends every live session of the subject.
	EndSessions bool
	// RevokeClient revokes the subject's grants at that client only; with EndSessions and
	// RevokeClient empty, every grant of the subject is revoked.
	RevokeClient string
	// Users are shadow-user states to write; each one's events are written only when it changed.
	Users []ShadowUpdate
	// Events are written in any case.
	Events []*OutboxEvent
	// Fence, when set (Fence.Epoch), is checked first in the same transaction: a deactivation
	// under a lock its caller may have lost (a poll's or a reconcile page's, under the sync lock)
	// writes nothing and answers ErrFenced when another holder moved the fence's watermark
	// (review s28 R7-2). The zero Fence checks nothing.
	Fence Fence
	// Logout builds the logout events of the sessions that were ended, in the transaction,
	// from them as it reads them once ended (EndedSession: each with its clients and SAML
	// participants, read after the sessions are marked ended, as EndSessionWithEvents reads
	// its one), so an AddSessionClient or AddSAMLParticipant either committed before and is
	// among them, or is refused after. As EndSessionWithEvents' build, it must not read the
	// store (the transaction holds a connection of the pool it would read with, which may have
	// no other: backchannel.Logouts.Deactivate reads what it needs before), it may run more
	// than once (only the last run's events are written), and its error rolls the whole
	// deactivation back and is returned. Called with what ended (possibly nothing) when set.
	Logout func(ended []*EndedSession) ([]*OutboxEvent, error)
}

// EndedSession is a session as the transaction that ends it reads it
// (Outbox.EndSessionWithEvents).
type EndedSession struct {
	// Session is the session, Ended set, with every client it signed into.
	Session *sso.Session
	// SAMLParticipants are the SAML service providers it signed into, as
	// SAMLStore.SAMLParticipants lists them.
	SAMLParticipants []*SAMLParticipant
}

// ShadowCond is what PutShadowUserIf checks before it writes: what the new state was computed
// from.
type ShadowCond struct {
	// Epoch names a watermark (required) and EpochValue is the value it had when the state
	// was read.
	Epoch      string
	EpochValue time.Time
	// Prev is the shadow user as it was read (nil: there was none).
	Prev *ShadowUser
	// Fenced says Epoch and EpochValue are a lock holder's Fence (the sync epoch the poll or
	// reconcile page set under the sync lock; review s28 R7-2): when the watermark no longer
	// holds EpochValue, the lock was lost to another holder, and the write answers ErrFenced
	// rather than ErrShadowChanged (a changed Prev is still ErrShadowChanged).
	Fenced bool
}

// ErrShadowChanged: PutShadowUserIf found the watermark or the shadow user changed since they
// were read; nothing was written.
var ErrShadowChanged = errors.New("store: the shadow user or the sync epoch changed since it was read")

// ShadowUpdate is a new shadow-user state and the events it causes.
type ShadowUpdate struct {
	User   *ShadowUser
	Events []*OutboxEvent
}

// ShadowStore keeps shadow users and the change-detection watermark.
type ShadowStore interface {
	// ShadowUser returns sso.ErrNotFound when the member was never provisioned to the client.
	ShadowUser(ctx context.Context, clientID, subject string) (*ShadowUser, error)
	// ShadowUsers lists shadow users, filtered by client and/or subject when not empty.
	ShadowUsers(ctx context.Context, clientID, subject string) ([]*ShadowUser, error)
	// ShadowUsersOf lists the shadow users of the given subjects (at every client), ordered by
	// subject and client.
	ShadowUsersOf(ctx context.Context, subjects []string) ([]*ShadowUser, error)
	// PutShadowUser writes u and its events in one transaction, only when u's Digest or Active
	// differ from what is stored (or nothing is); it reports whether it wrote. ExternalID and
	// CreatedAt are kept.
	PutShadowUser(ctx context.Context, u *ShadowUser, events ...*OutboxEvent) (bool, error)
	// PutShadowUserIf is PutShadowUser when, in the same transaction, the watermark cond.Epoch
	// is still cond.EpochValue and the stored shadow user of u's client and subject is still
	// cond.Prev (its Digest and Active; nil: none stored). Otherwise it writes nothing and
	// returns ErrShadowChanged (ErrFenced for a moved epoch when cond.Fenced). The check holds until the transaction ends: a concurrent
	// SetWatermark of cond.Epoch, or write of the shadow user, comes before it (and fails it) or
	// after it.
	PutShadowUserIf(ctx context.Context, cond ShadowCond, u *ShadowUser, events ...*OutboxEvent) (bool, error)
	// SetShadowExternalID records the target's id for the user (idempotent);
	// sso.ErrNotFound when there is no such shadow user.
	SetShadowExternalID(ctx context.Context, clientID, subject, externalID string) error
	// Deactivate applies d in one transaction and returns the sessions it ended; with
	// d.Fence set, nothing (ErrFenced) when the fence's watermark no longer holds its value.
	Deactivate(ctx context.Context, d *Deactivation) ([]*sso.Session, error)
	// Watermark returns the named watermark (zero when never set).
	Watermark(ctx context.Context, name string) (time.Time, error)
	SetWatermark(ctx context.Context, name string, t time.Time) error
	// SubjectsByKeyRange lists the subjects whose member key sorts (bytewise) after after and
	// not after through, ascending by member key, at most limit of them (all when limit <= 0).
	// An empty through sets no upper bound.
	SubjectsByKeyRange(ctx context.Context, after, through string, limit int) ([]*Subject, error)
	// ReconcileState returns the named reconcile progress (the zero value when never set).
	ReconcileState(ctx context.Context, name string) (ReconcileState, error)
	SetReconcileState(ctx context.Context, name string, st ReconcileState) error
	// PollRetries returns the change poller's retry list (the members whose sync kept
	// failing), ordered by member key.
	PollRetries(ctx context.Context) ([]PollRetry, error)
	// SetPollProgress writes, in one transaction, each of put (replacing the row of its member
	// key), deletes the rows of the member keys in del and, when mark is not zero, sets the
	// watermark name to mark: a member that the watermark moves past is on the retry list in
	// the same commit, or the watermark does not move. With a fence (Fence.Epoch set) it first
	// checks, in the same transaction, that the fence's watermark still holds its value, and
	// writes nothing (ErrFenced) when it does not; name may be the fence's own watermark (a
	// compare-and-set of it).
	SetPollProgress(ctx context.Context, name string, mark time.Time, put []PollRetry, del []string, fence Fence) error
}

// Fence guards a write made under a lock that can be lost without its holder knowing (the sync
// lock: on PostgreSQL a session advisory lock on a pooled connection, which ends with its
// session; review s27 R5-6). Epoch names a watermark that whoever takes the lock moves first
// (the sync epoch), and Value is the value this holder set when it took it. A write with the
// fence is made only if the watermark still holds Value, checked in the write's transaction,
// which also keeps the watermark from moving until it commits (PostgreSQL: FOR SHARE): a
// holder that lost the lock to another, which moved the watermark, writes nothing. The zero
// Fence checks nothing.
type Fence struct {
	Epoch string
	Value time.Time
}

// ErrFenced: a fenced write found the fence's watermark moved (another holder took the lock);
// nothing was written.
var ErrFenced = errors.New("store: the lock was taken by another holder since this one took it (fence moved); nothing written")

// PollRetry is a member on the change poller's retry list: its sync failed at Attempts polls
// in a row (review s26 R3-7: kept in the store, so that a restart or another replica taking the
// lead does not forget it).
type PollRetry struct {
	MemberKey string
	// Attempts is how many polls in a row failed (or left unconfirmed) the member's sync.
	Attempts int
	// NextTry is when the poller tries the member again by key (zero: at the next poll).
	NextTry time.Time
	// Unconfirmed is true when the last attempt found the member refused by one read of the
	// AMS and not by the next (ErrRefusalUnconfirmed), rather than failing.
	Unconfirmed bool
}

// ReconcileState is the progress of a periodic pass over every member of the AMS, kept in the
// store so that a restarted process resumes the pass where it stopped.
type ReconcileState struct {
	// StartedAt is when the pass in progress began; zero when no pass is in progress.
	StartedAt time.Time
	// Cursor is the member key up to which the pass in progress has handled everyone (the
	// AMS listing continues after it); empty at the start of a pass.
	Cursor string
	// FinishedAt is when the last complete pass ended; zero when none ever did.
	FinishedAt time.Time
	// Gone is how many members the pass in progress has deactivated because the AMS no longer
	// knows them (bounded per pass by shadow.reconcile_max_gone).
	Gone int
}

// Outbox is the durable queue of events to deliver, at least once.
type Outbox interface {
	// Enqueue writes events (pending, due at NextAttempt or now); ID, Key and Channel required.
	// Every write of events (here and in the other methods that write them) supersedes the
	// older events each one names in Supersedes (see OutboxEvent.Supersedes).
	Enqueue(ctx context.Context, events ...*OutboxEvent) error
	// EndSessionWithEvents ends the session and writes its logout events in one transaction,
	// in which it also revokes the session's grants that hold no refresh token (granted
	// without offline_access), as EndSession and EndSubjectSessions do. The events are
	// build's, called in that transaction with the session as it ends there (EndedSession):
	// its clients and SAML participants are read after it is marked ended (PostgreSQL: under
	// the row lock that marks it), so an AddSessionClient or AddSAMLParticipant of the same
	// session either committed before and is among them, or is refused (sso.ErrNotFound)
	// after. build must not read the store (on SQLite it runs holding the only write
	// connection, which an in-memory database also reads with); it may run more than once
	// (a transaction run again), and only the last run's events are written. An error of build
	// rolls the end back (nothing is ended or written) and is returned, as is an event that
	// cannot be written. It returns the session as it ended; nil, with build not called and
	// nothing written, when the session is unknown or was ended already (whoever ended it
	// wrote its events). A nil build writes no events.
	EndSessionWithEvents(ctx context.Context, sessionID string, build func(ended *EndedSession) ([]*OutboxEvent, error)) (*EndedSession, error)
	// ClaimEvents leases due pending events whose lease is free, the oldest of each key only
	// (never two of one key at once), and counts an attempt on each.
	ClaimEvents(ctx context.Context, c Claim) ([]*OutboxEvent, error)
	// MarkDelivered records a delivery by the holder of the claim whose lease ends at lease
	// (the claimed event's LeaseUntil; the zero time for an event never claimed). Each claim
	// sets a later lease end than the one before it (an event is claimed again only once its
	// lease has run out or was released), so the lease end names the claim: a replica whose
	// lease ran out and was claimed by another gets ErrLeaseLost and records nothing. A
	// delivered event stays delivered (idempotent); sso.ErrNotFound when unknown.
	MarkDelivered(ctx context.Context, id string, lease, at time.Time) error
	// MarkFailed records a failed attempt by the holder of the claim whose lease ends at lease
	// (as MarkDelivered): the event is retried at next, or goes to the dead-letter state when
	// dead is true. The lease is released. ErrLeaseLost when the claim is no longer the
	// latest; nil for a delivered event, which stays delivered. ErrSuperseded when the failure
	// is recorded and, since a later pending event of its key stands for it and dead is false,
	// the event is superseded instead of retried (OutboxEvent.Supersedes).
	MarkFailed(ctx context.Context, id string, lease, next time.Time, lastError string, dead bool) error
	// OutboxEvent returns one event; sso.ErrNotFound when unknown.
	OutboxEvent(ctx context.Context, id string) (*OutboxEvent, error)
	OutboxEvents(ctx context.Context, f OutboxFilter) ([]*OutboxEvent, error)
	// OutboxCounts returns how many events are in each state.
	OutboxCounts(ctx context.Context) (map[string]int, error)
	// RetryEvents re-queues dead events (one by id, or all when id is empty) with a fresh
	// attempt count, due now; it returns how many.
	RetryEvents(ctx context.Context, id string, now time.Time) (int, error)
	// PurgeDelivered deletes events delivered (or skipped) before t, except those of a key that
	// has a dead event (they supersede it: see RetryEvents), and events superseded before t; it
	// returns how many.
	PurgeDelivered(ctx context.Context, before time.Time) (int64, error)
	// MarkSkipped records, as MarkDelivered does a delivery, that the holder of the claim found
	// nothing to send: the event is done (OutboxSkipped, DeliveredAt at, LastError why), never
	// sent nor retried, and purged as the delivered ones are (PurgeDelivered). A skipped or
	// delivered event stays as it is (nil); ErrLeaseLost and sso.ErrNotFound as MarkDelivered.
	MarkSkipped(ctx context.Context, id string, lease, at time.Time, why string) error
}
