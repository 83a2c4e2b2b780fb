package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
)

// Appender is where events are kept (the store's AuditLog).
type Appender interface {
	Audit(ctx context.Context, e *store.AuditEvent) error
}

// Log writes audit events.
type Log struct {
	store Appender
	log   *slog.Logger
	now   func() time.Time
	limit *throttle.Limiter
	// observe, when set, sees every event before it is written (metrics, log fields).
	observe func(ctx context.Context, e *store.AuditEvent)
}

// Observe makes f see every event Write writes, before it is written (metrics; the request's
// log fields). Call it once, before the Log is used.
func (l *Log) Observe(f func(ctx context.Context, e *store.AuditEvent)) *Log {
	l.observe = f
	return l
}

// New builds the Log. limit is the anonymous-write budget per client address (shared with the
// endpoints' rate limits); nil writes anonymous rows without a budget. log nil: slog.Default;
// now nil: time.Now.
func New(st Appender, log *slog.Logger, now func() time.Time, limit *throttle.Limiter) *Log {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Log{store: st, log: log, now: now, limit: limit}
}

// Write appends an event (its Time set when zero) and logs its line; a failure to append is
// logged, not returned. The row is written even when the request's client has gone away
// (ctx cancelled): a caller does not escape the audit log by
// hanging up.
func (l *Log) Write(ctx context.Context, e *store.AuditEvent) {
	l.Prepare(ctx, e)
	if err := l.store.Audit(keep(ctx), e); err != nil {
		l.WriteFailed(ctx, e, err)
	}
}

// Prepare does what Write does before appending (the time set when zero, the observer told,
// the line logged), for an event the caller appends itself in a transaction of its own
// (store.SignInStore); a failure of that write is reported with WriteFailed.
func (l *Log) Prepare(ctx context.Context, e *store.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if l.observe != nil {
		l.observe(ctx, e)
	}
	l.log.InfoContext(ctx, "audit", "event", e.Event, "subject", e.Subject, "login", e.Login, "client", e.ClientID, "ip", e.IP, "detail", e.Detail)
}

// WriteFailed logs that appending e failed.
func (l *Log) WriteFailed(ctx context.Context, e *store.AuditEvent, err error) {
	l.log.ErrorContext(ctx, "audit write failed", "event", e.Event, "err", err)
}

// keep is ctx without its cancellation (a client going away) or deadline: the stores bound
// their own statements (SQLite's busy timeout, PostgreSQL's store.statement_timeout).
func keep(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// Anonymous writes an event caused by an anonymous caller (a failed or throttled sign-in, a
// refused sign-in link or hand-off) within the address's budget of anonymous writes (e.IP);
// past it, one "ratelimit.refused" row per window stands for the rows not written.
func (l *Log) Anonymous(ctx context.Context, e *store.AuditEvent) {
	if l.limit == nil {
		l.Write(ctx, e)
		return
	}
	ctx = keep(ctx) // the count and the row, client gone or not
	ok, _, err := l.limit.Allow(ctx, "audit|"+throttle.AddressKey(e.IP))
	if err != nil {
		// The row is written (its own write reports a store that is down): an audit row is
		// not dropped for want of its count.
		l.log.ErrorContext(ctx, "audit rate limit unavailable", "event", e.Event, "err", err)
	}
	if ok || err != nil {
		l.Write(ctx, e)
		return
	}
	if first, err := l.limit.First(ctx, "audit-dropped|"+throttle.AddressKey(e.IP)); first || err != nil {
		l.Write(ctx, &store.AuditEvent{Event: "ratelimit.refused", IP: e.IP, Detail: "audit rows of failed sign-ins"})
	}
}

// Refused records that the rate limit of endpoint name refused the address ip: one row per
// endpoint, address and window (the first refusal), so refusals cannot fill the log themselves.
func (l *Log) Refused(ctx context.Context, name, ip string) {
	ctx = keep(ctx)
	if l.limit == nil {
		l.Write(ctx, &store.AuditEvent{Event: "ratelimit.refused", IP: ip, Detail: name})
		return
	}
	if first, err := l.limit.First(ctx, "refused|"+name+"|"+throttle.AddressKey(ip)); first || err != nil {
		l.Write(ctx, &store.AuditEvent{Event: "ratelimit.refused", IP: ip, Detail: name})
	}
}

// Coalesced writes an event an anonymous caller may repeat at will about one thing of the
// operator's (key: a stored client the bridge does not serve, sso.ClientConfig.Unusable): one
// row per key and address in each window (the first), and at most the anonymous-write budget
// of rows per key in a window whatever the addresses (past that, one "ratelimit.refused" row
// per key and window, naming the event and the client, stands for the rest); a row written
// counts against its address's anonymous writes as well (Anonymous). Such a row says "this is
// still being asked for, from there", which a row per request would only repeat.
func (l *Log) Coalesced(ctx context.Context, key string, e *store.AuditEvent) {
	if l.limit == nil {
		l.Write(ctx, e)
		return
	}
	ctx = keep(ctx)
	first, err := l.limit.First(ctx, "coalesce|"+key+"|"+throttle.AddressKey(e.IP))
	if err != nil {
		// As Anonymous: the row is not dropped for want of its count.
		l.log.ErrorContext(ctx, "audit rate limit unavailable", "event", e.Event, "err", err)
		l.Write(ctx, e)
		return
	}
	if !first {
		return
	}
	ok, _, err := l.limit.Allow(ctx, "coalesce|"+key)
	if err != nil {
		l.log.ErrorContext(ctx, "audit rate limit unavailable", "event", e.Event, "err", err)
	}
	if ok || err != nil {
		l.Anonymous(ctx, e)
		return
	}
	if first, err := l.limit.First(ctx, "coalesce-dropped|"+key); first || err != nil {
		l.Write(ctx, &store.AuditEvent{Event: "ratelimit.refused", ClientID: e.ClientID, IP: e.IP, Detail: "audit rows of " + e.Event})
	}
}

// Repeated writes an event a caller holding a grant may cause again and again for the same
// reason, as often as it likes (key names the grant and the reason: a refused refresh of a
// live refresh token, which an app retrying in a loop repeats on every attempt): the first
// event per key in each window is written (Write); the others of that window are observed
// only (metrics count every one) and logged at debug level, not appended. A limiter that fails
// to answer writes the row: the first one is never lost. Without a limiter every event is
// written.
func (l *Log) Repeated(ctx context.Context, key string, e *store.AuditEvent) {
	if l.limit == nil {
		l.Write(ctx, e)
		return
	}
	ctx = keep(ctx)
	first, err := l.limit.First(ctx, "repeated|"+key)
	if err != nil {
		l.log.ErrorContext(ctx, "audit rate limit unavailable", "event", e.Event, "err", err)
	}
	if first || err != nil {
		l.Write(ctx, e)
		return
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if l.observe != nil {
		l.observe(ctx, e)
	}
	l.log.DebugContext(ctx, "audit repeated, not written", "event", e.Event, "subject", e.Subject, "client", e.ClientID, "ip", e.IP, "detail", e.Detail)
}
