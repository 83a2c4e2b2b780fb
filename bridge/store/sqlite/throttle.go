package sqlite

import (
	"context"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// counterSet is the new state of a counter hit (store.CounterHit), in the order of the hit's
// arguments: ?1 key, ?2 now, ?3 delta, ?4 limit, ?5 end of a window opened now, ?6 end of a
// lock taken now (0: the window's end), ?7 the latest the row may still matter. Every
// expression reads the row as it was (SQLite's UPDATE semantics), so the CASEs agree.
const counterSet = `n = CASE WHEN c.locked_until > ?2 THEN c.n WHEN c.window_end <= ?2 THEN ?3
		WHEN c.n >= ?4 THEN 0 ELSE c.n + ?3 END,
	locked_until = CASE WHEN c.locked_until > ?2 OR c.window_end <= ?2 OR c.n < ?4 THEN c.locked_until
		WHEN ?6 > 0 THEN ?6 ELSE c.window_end END,
	window_end = CASE WHEN c.locked_until <= ?2 AND c.window_end <= ?2 THEN ?5 ELSE c.window_end END,
	expires_at = max(c.expires_at, ?7)`

const counterReturning = ` RETURNING n, locked_until, window_end, note`

// HitCounter counts one event in one statement: an UPSERT (Delta 1) or an UPDATE (Delta 0,
// which creates no counter), returning the counter's new state.
func (s *Store) HitCounter(ctx context.Context, h store.CounterHit) (store.Counter, error) {
	q := `INSERT INTO throttle_counters AS c (key, n, window_end, locked_until, note, expires_at)
		VALUES (?1, ?3, ?5, 0, '', ?7) ON CONFLICT (key) DO UPDATE SET ` + counterSet + counterReturning
	if h.Delta == 0 {
		q = `UPDATE throttle_counters AS c SET ` + counterSet + ` WHERE key = ?1` + counterReturning
	}
	now := ts(h.Now)
	lock := int64(0)
	if h.Lockout > 0 {
		lock = ts(h.Now.Add(h.Lockout))
	}
	var c store.Counter
	var locked, end int64
	err := s.writeRow(ctx, q, []any{h.Key, now, h.Delta, h.Limit, ts(h.Now.Add(h.Window)), lock,
		ts(h.Now.Add(max(h.Window, h.Lockout)))}, &c.Count, &locked, &end, &c.Note)
	if h.Delta == 0 && isNoRows(err) {
		return store.Counter{}, nil
	}
	if err != nil {
		return store.Counter{}, wrap("hit counter", err)
	}
	c.LockedUntil, c.WindowEnd = tm(locked), tm(end)
	return c, nil
}

// UndoCounter takes one event back while the counter's window is open and it is not locked.
func (s *Store) UndoCounter(ctx context.Context, key string, now time.Time) (string, error) {
	n := ts(now)
	var note string
	err := s.writeRow(ctx, `UPDATE throttle_counters SET n = n - 1
		WHERE key = ?1 AND n > 0 AND window_end > ?2 AND locked_until <= ?2 RETURNING note`, []any{key, n}, &note)
	if isNoRows(err) {
		return "", nil
	}
	return note, wrap("undo counter", err)
}

// NoteCounter sets an existing counter's note.
func (s *Store) NoteCounter(ctx context.Context, key, note string) error {
	_, err := s.wexec(ctx, `UPDATE throttle_counters SET note = ? WHERE key = ?`, note, key)
	return wrap("note counter", err)
}

// ResetCounter deletes the counter and returns its note.
func (s *Store) ResetCounter(ctx context.Context, key string) (string, error) {
	var note string
	err := s.writeRow(ctx, `DELETE FROM throttle_counters WHERE key = ? RETURNING note`, []any{key}, &note)
	if isNoRows(err) {
		return "", nil
	}
	return note, wrap("reset counter", err)
}
