package sqlite

import (
	"context"
	"database/sql"
	"errors"
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
	q, args := hitQuery(h)
	var c store.Counter
	var locked, end int64
	err := s.writeRow(ctx, q, args, &c.Count, &locked, &end, &c.Note)
	if h.Delta == 0 && isNoRows(err) {
		return store.Counter{}, nil
	}
	if err != nil {
		return store.Counter{}, wrap("hit counter", err)
	}
	c.LockedUntil, c.WindowEnd = tm(locked), tm(end)
	return c, nil
}

// hitQuery is HitCounter's statement and arguments.
func hitQuery(h store.CounterHit) (string, []any) {
	q := `INSERT INTO throttle_counters AS c (key, n, window_end, locked_until, note, expires_at)
		VALUES (?1, ?3, ?5, 0, '', ?7) ON CONFLICT (key) DO UPDATE SET ` + counterSet + counterReturning
	if h.Delta == 0 {
		q = `UPDATE throttle_counters AS c SET ` + counterSet + ` WHERE key = ?1` + counterReturning
	}
	lock := int64(0)
	if h.Lockout > 0 {
		lock = ts(h.Now.Add(h.Lockout))
	}
	return q, []any{h.Key, ts(h.Now), h.Delta, h.Limit, ts(h.Now.Add(h.Window)), lock, ts(h.Now.Add(max(h.Window, h.Lockout)))}
}

// hitTx is HitCounter in tx.
func hitTx(ctx context.Context, tx *sql.Tx, h store.CounterHit) (store.Counter, error) {
	q, args := hitQuery(h)
	var c store.Counter
	var locked, end int64
	err := tx.QueryRowContext(ctx, q, args...).Scan(&c.Count, &locked, &end, &c.Note)
	if h.Delta == 0 && isNoRows(err) {
		return store.Counter{}, nil
	}
	if err != nil {
		return store.Counter{}, err
	}
	c.LockedUntil, c.WindowEnd = tm(locked), tm(end)
	return c, nil
}

const undoQuery = `UPDATE throttle_counters SET n = n - 1
		WHERE key = ?1 AND n > 0 AND window_end > ?2 AND locked_until <= ?2 RETURNING note`

// undoTx is UndoCounter in tx; ok reports whether an event was taken back.
func undoTx(ctx context.Context, tx *sql.Tx, key string, now time.Time) (note string, ok bool, err error) {
	err = tx.QueryRowContext(ctx, undoQuery, key, ts(now)).Scan(&note)
	if isNoRows(err) {
		return "", false, nil
	}
	return note, err == nil, err
}

// ReserveCounters is store.CounterSteps' step, one write.
func (s *Store) ReserveCounters(ctx context.Context, r store.CounterReserve) (store.CounterReserved, error) {
	for _, h := range r.Hits {
		if h.Delta < 1 {
			return store.CounterReserved{}, errors.New("sqlite: reserve counters: a hit that counts nothing")
		}
	}
	if r.Noted.Delta < 1 {
		return store.CounterReserved{}, errors.New("sqlite: reserve counters: a hit that counts nothing")
	}
	var out store.CounterReserved
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = store.CounterReserved{Counters: make([]store.Counter, len(r.Hits))}
		for i, h := range r.Hits {
			c, err := hitTx(ctx, tx, h)
			if err != nil {
				return err
			}
			out.Counters[i] = c
		}
		if len(r.Hits) == 0 || out.Counters[0].Note == "" {
			return nil
		}
		h := r.Noted
		h.Key = out.Counters[0].Note
		c, err := hitTx(ctx, tx, h)
		out.NotedKey, out.Noted = h.Key, c
		return err
	})
	if err != nil {
		return store.CounterReserved{}, wrap("reserve counters", err)
	}
	return out, nil
}

// UndoCounters is store.CounterSteps' step, one write.
func (s *Store) UndoCounters(ctx context.Context, keys []string, viaNote bool, now time.Time) error {
	return wrap("undo counters", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var noted string
		for i, k := range keys {
			note, ok, err := undoTx(ctx, tx, k, now)
			if err != nil {
				return err
			}
			if i == 0 && ok {
				noted = note
			}
		}
		if viaNote && noted != "" {
			_, _, err := undoTx(ctx, tx, noted, now)
			return err
		}
		return nil
	}))
}

// ClearCounters is store.CounterSteps' step, one write.
func (s *Store) ClearCounters(ctx context.Context, key, undo string, look store.CounterHit, now time.Time) (store.Counter, error) {
	if look.Key != "" && look.Delta != 0 {
		return store.Counter{}, errors.New("sqlite: clear counters: a look that counts")
	}
	var out store.Counter
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = store.Counter{}
		if look.Key != "" {
			c, err := hitTx(ctx, tx, look)
			if err != nil || c.Refused(look.Now) {
				out = c
				return err
			}
		}
		var note string
		err := tx.QueryRowContext(ctx, `DELETE FROM throttle_counters WHERE key = ? RETURNING note`, key).Scan(&note)
		if err != nil && !isNoRows(err) {
			return err
		}
		if _, _, err := undoTx(ctx, tx, undo, now); err != nil {
			return err
		}
		if note == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM throttle_counters WHERE key = ?`, note)
		return err
	})
	if err != nil {
		return store.Counter{}, wrap("clear counters", err)
	}
	return out, nil
}

// NoteHitCounter is store.CounterSteps' step, one write.
func (s *Store) NoteHitCounter(ctx context.Context, key string, h store.CounterHit, look int) (store.Counter, error) {
	if h.Delta < 1 {
		return store.Counter{}, errors.New("sqlite: note and hit counter: a hit that counts nothing")
	}
	var out store.Counter
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = store.Counter{}
		if look > 0 {
			l := h
			l.Delta, l.Limit = 0, look
			c, err := hitTx(ctx, tx, l)
			if err != nil {
				return err
			}
			out = c
		}
		var noted int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM throttle_counters WHERE key = ? AND note = ?`,
			key, h.Key).Scan(&noted); err != nil || noted > 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE throttle_counters SET note = ?2, expires_at = max(expires_at, ?3) WHERE key = ?1`,
			key, h.Key, ts(h.Now.Add(max(h.Window, h.Lockout)))); err != nil {
			return err
		}
		c, err := hitTx(ctx, tx, h)
		if err == nil {
			out = c
		}
		return err
	})
	if err != nil {
		return store.Counter{}, wrap("note and hit counter", err)
	}
	return out, nil
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

var _ store.CounterSteps = (*Store)(nil)

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
