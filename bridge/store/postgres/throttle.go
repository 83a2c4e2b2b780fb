package postgres

import (
	"context"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// counterSet is the new state of a counter hit (store.CounterHit), in the order of the hit's
// arguments: $1 key, $2 now, $3 delta, $4 limit, $5 end of a window opened now, $6 end of a
// lock taken now (0: the window's end), $7 the latest the row may still matter. Every
// expression reads the row as it was; the conflicting row is locked for the statement, so
// concurrent hits on one counter on any replica apply one after the other (READ COMMITTED
// re-reads the row before updating it).
var counterSet = counterNew[0][0] + " = " + counterNew[0][1] + ",\n\t" + counterNew[1][0] + " = " + counterNew[1][1] +
	",\n\t" + counterNew[2][0] + " = " + counterNew[2][1] + ",\n\t" + counterNew[3][0] + " = " + counterNew[3][1]

// counterNew is counterSet column by column: each column and its new value (which reads the
// row as c.n, c.locked_until, c.window_end, c.expires_at).
var counterNew = [4][2]string{
	{"n", `CASE WHEN c.locked_until > $2 THEN c.n WHEN c.window_end <= $2 THEN $3::integer
		WHEN c.n >= $4 THEN 0 ELSE c.n + $3::integer END`},
	{"locked_until", `CASE WHEN c.locked_until > $2 OR c.window_end <= $2 OR c.n < $4 THEN c.locked_until
		WHEN $6::bigint > 0 THEN $6::bigint ELSE c.window_end END`},
	{"window_end", `CASE WHEN c.locked_until <= $2 AND c.window_end <= $2 THEN $5::bigint ELSE c.window_end END`},
	{"expires_at", `GREATEST(c.expires_at, $7::bigint)`},
}

const counterReturning = ` RETURNING n, locked_until, window_end, note`

// HitCounter counts one event in one statement: INSERT ... ON CONFLICT DO UPDATE (Delta 1) or
// UPDATE (Delta 0, which creates no counter), returning the counter's new state.
func (s *Store) HitCounter(ctx context.Context, h store.CounterHit) (store.Counter, error) {
	q := `INSERT INTO throttle_counters AS c (key, n, window_end, locked_until, note, expires_at)
		VALUES ($1, $3, $5, 0, '', $7) ON CONFLICT (key) DO UPDATE SET ` + counterSet + counterReturning
	if h.Delta == 0 {
		q = `UPDATE throttle_counters AS c SET ` + counterSet + ` WHERE key = $1` + counterReturning
	}
	lock := int64(0)
	if h.Lockout > 0 {
		lock = ts(h.Now.Add(h.Lockout))
	}
	var c store.Counter
	var locked, end int64
	err := s.pool.QueryRow(ctx, q, h.Key, ts(h.Now), h.Delta, h.Limit, ts(h.Now.Add(h.Window)), lock,
		ts(h.Now.Add(max(h.Window, h.Lockout)))).Scan(&c.Count, &locked, &end, &c.Note)
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
	var note string
	err := s.pool.QueryRow(ctx, `UPDATE throttle_counters SET n = n - 1
		WHERE key = $1 AND n > 0 AND window_end > $2 AND locked_until <= $2 RETURNING note`, key, ts(now)).Scan(&note)
	if isNoRows(err) {
		return "", nil
	}
	return note, wrap("undo counter", err)
}

// NoteCounter sets an existing counter's note.
func (s *Store) NoteCounter(ctx context.Context, key, note string) error {
	_, err := s.pool.Exec(ctx, `UPDATE throttle_counters SET note = $2 WHERE key = $1`, key, note)
	return wrap("note counter", err)
}

// ResetCounter deletes the counter and returns its note.
func (s *Store) ResetCounter(ctx context.Context, key string) (string, error) {
	var note string
	err := s.pool.QueryRow(ctx, `DELETE FROM throttle_counters WHERE key = $1 RETURNING note`, key).Scan(&note)
	if isNoRows(err) {
		return "", nil
	}
	return note, wrap("reset counter", err)
}

// SharedByReplicas reports that several bridge replicas may share this store: their sign-in
// throttle and rate limits count here (bridge.Deps).
func (s *Store) SharedByReplicas() bool { return true }
