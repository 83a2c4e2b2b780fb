package store

import (
	"context"
	"time"
)

// CounterHit is one event counted against a throttle counter (CounterStore.HitCounter).
//
// A counter counts within a fixed window that opens at its first event (not on a clock
// boundary) and lasts Window. The event that finds Limit events already counted in the window
// does not count: it locks the counter for Lockout (0: until the window ends) and is refused,
// as is every event while the counter is locked. When the window (and any lock) has ended, the
// next event opens a new window.
type CounterHit struct {
	// Key names the counter. Callers pass a keyed hash, never a typed login or an address in
	// clear; the store keeps it as given.
	Key string
	// Delta is what the event adds: 1 counts it; 0 only looks (and locks a counter that has
	// reached Limit, as a counted event would), creating no counter.
	Delta   int
	Limit   int
	Window  time.Duration
	Lockout time.Duration
	Now     time.Time
}

// Counter is a counter's state after a hit.
type Counter struct {
	// Count is how many events the window holds (the hit included when it counted).
	Count int
	// LockedUntil is after the hit's Now when the counter refuses events: the hit was refused.
	LockedUntil time.Time
	// WindowEnd is when the counter's window ends (zero: no counter).
	WindowEnd time.Time
	// Note is the counter's note (NoteCounter), "" when none.
	Note string
}

// Refused reports whether the hit at now was refused (the counter is locked).
func (c Counter) Refused(now time.Time) bool { return c.LockedUntil.After(now) }

// CounterStore keeps the sign-in throttle's and the rate limits' counters where every replica
// sees them. Each call is one statement, atomic under concurrent callers on any replica: of N
// concurrent hits on a counter with room for k, exactly k count.
type CounterStore interface {
	// HitCounter counts (or, with Delta 0, looks at) one event and returns the counter after it.
	HitCounter(ctx context.Context, h CounterHit) (Counter, error)
	// UndoCounter takes back one counted event of key (a reservation that turned out not to be
	// a failure) while the counter's window is open and it is not locked, and returns the
	// counter's note; otherwise, or when there is no such counter, it does nothing and returns
	// "".
	UndoCounter(ctx context.Context, key string, now time.Time) (note string, err error)
	// NoteCounter sets the note of an existing counter (a sign-in login's counter notes the
	// member counter it resolved to); it does nothing when there is no such counter.
	NoteCounter(ctx context.Context, key, note string) error
	// ResetCounter deletes the counter (a success clears it) and returns its note ("" when none
	// or no counter).
	ResetCounter(ctx context.Context, key string) (note string, err error)
}

// CounterSteps is a CounterStore that applies each step of the sign-in throttle, several
// counter changes, at once: one statement on PostgreSQL (one round trip however many counters
// it touches), one write on SQLite. A step does what the CounterStore calls its documentation
// names would do one after another, atomically (all or nothing). The throttle uses it when the
// store has it. The counters of one step are changed in the order login, address, member (the
// first key, the others, the noted one), whatever the step, so that steps running at once on
// several replicas lock them in one order.
type CounterSteps interface {
	// ReserveCounters counts each of r.Hits (HitCounter), in order, and then r.Noted against
	// the counter the first hit's counter notes, when it notes one (r.Noted.Key is ignored).
	// Every hit counts (Delta 1 or more): a look is HitCounter's.
	ReserveCounters(ctx context.Context, r CounterReserve) (CounterReserved, error)
	// UndoCounters takes one event back from each of keys (UndoCounter), in order, and, with
	// viaNote, from the counter the first key's counter notes when its event was taken back.
	UndoCounters(ctx context.Context, keys []string, viaNote bool, now time.Time) error
	// ClearCounters resets key's counter (ResetCounter), takes one event back from undo's
	// (UndoCounter), and resets the counter key's counter noted. With look.Key set it first
	// looks at look.Key's counter (HitCounter with Delta 0 at look's Limit, Now, Window and
	// Lockout: a counter that has reached the limit is locked); when the counter refuses after
	// the look (Counter.Refused at look.Now) it changes nothing else and returns the counter as
	// the look left it. Otherwise it returns the zero Counter. With a look: a first successful
	// sign-in's member check and its success in one step.
	ClearCounters(ctx context.Context, key, undo string, look CounterHit, now time.Time) (Counter, error)
	// NoteHitCounter, unless key's counter notes h.Key already, notes h.Key on key's counter
	// (NoteCounter, and its expiry is pushed to h's window or lockout as a look at it would)
	// and counts h (HitCounter, Delta 1 or more). With look > 0 it looks at h.Key's counter
	// with that limit first (HitCounter with Delta 0 and Limit look, at h's Now, Window and
	// Lockout: a counter that has reached look is locked, and the hit after it then does not
	// count). It returns h.Key's counter after the step when it looked or counted (the zero
	// Counter when neither, or when there is no counter): a failed sign-in's member check and
	// its failure in one step.
	NoteHitCounter(ctx context.Context, key string, h CounterHit, look int) (Counter, error)
}

// CounterReserve is what ReserveCounters counts.
type CounterReserve struct {
	Hits  []CounterHit
	Noted CounterHit
}

// CounterReserved is ReserveCounters' answer: the counters after the hits, and the noted
// counter's key ("" when the first hit's counter notes none) and state.
type CounterReserved struct {
	Counters []Counter
	NotedKey string
	Noted    Counter
}
