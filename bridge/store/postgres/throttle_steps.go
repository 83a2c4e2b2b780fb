package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// The throttle's steps (store.CounterSteps), each one statement: one round trip however many
// counters it changes. Each is a chain of data-modifying CTEs, one per counter. A CTE's
// statement runs when a later one (or the main query) first reads it, so each one reads the
// one before it (its rows, or a count of them as a condition that always holds): the counters
// are changed, and their rows locked, in the order written, login, address, member, in every
// step, so steps running at once on several replicas cannot deadlock. Every CTE sees the rows
// as they were when the statement began (one snapshot), and no row is changed twice (the
// keys of one step are distinct: the throttle's keys are hashes under distinct prefixes).

var counterParam = regexp.MustCompile(`\$([2-7])\b`)

// counterSetAt is counterSet with its parameters $2..$7 at p[2]..p[7].
func counterSetAt(p [8]string) string {
	return counterParam.ReplaceAllStringFunc(counterSet, func(m string) string { return p[m[1]-'0'] })
}

// hitParams appends h's parameters (counterSet's $2..$7; with key, also $1) to args and
// returns their placeholders.
func hitParams(args *[]any, h store.CounterHit, key bool) [8]string {
	lock := int64(0)
	if h.Lockout > 0 {
		lock = ts(h.Now.Add(h.Lockout))
	}
	var p [8]string
	vals := []any{h.Key, ts(h.Now), h.Delta, h.Limit, ts(h.Now.Add(h.Window)), lock, ts(h.Now.Add(max(h.Window, h.Lockout)))}
	for i, v := range vals {
		if i == 0 && !key {
			continue
		}
		*args = append(*args, v)
		p[i+1] = fmt.Sprintf("$%d", len(*args))
	}
	return p
}

// upsertFrom is a hit's INSERT ... ON CONFLICT DO UPDATE of the counter named by keyExpr,
// selected from from (a row per counter to hit; "" for one row).
func upsertFrom(keyExpr, from string, p [8]string) string {
	src := fmt.Sprintf(`SELECT %s::text, %s::integer, %s::bigint, 0, '', %s::bigint`, keyExpr, p[3], p[5], p[7])
	if from != "" {
		src += " FROM " + from
	}
	return `INSERT INTO throttle_counters AS c (key, n, window_end, locked_until, note, expires_at) ` + src +
		` ON CONFLICT (key) DO UPDATE SET ` + counterSetAt(p) + ` RETURNING c.key, c.n, c.locked_until, c.window_end, c.note`
}

// ReserveCounters is store.CounterSteps' step in one statement.
func (s *Store) ReserveCounters(ctx context.Context, r store.CounterReserve) (store.CounterReserved, error) {
	if len(r.Hits) == 0 {
		return store.CounterReserved{}, nil
	}
	for _, h := range r.Hits {
		if h.Delta < 1 {
			return store.CounterReserved{}, errors.New("postgres: reserve counters: a hit that counts nothing")
		}
	}
	if r.Noted.Delta < 1 {
		return store.CounterReserved{}, errors.New("postgres: reserve counters: a hit that counts nothing")
	}
	var q strings.Builder
	var args []any
	q.WriteString("WITH ")
	var cols, from []string
	for i, h := range r.Hits {
		p := hitParams(&args, h, true)
		src := ""
		if i > 0 {
			src = fmt.Sprintf("h%d", i-1) // after the one before
		}
		fmt.Fprintf(&q, "h%d AS (%s), ", i, upsertFrom(p[1], src, p))
		cols = append(cols, fmt.Sprintf("h%d.n, h%d.locked_until, h%d.window_end, h%d.note", i, i, i, i))
		from = append(from, fmt.Sprintf("h%d", i))
	}
	p := hitParams(&args, r.Noted, false)
	last := fmt.Sprintf("h%d", len(r.Hits)-1)
	fmt.Fprintf(&q, "m AS (%s) ", upsertFrom("h0.note", fmt.Sprintf("h0, (SELECT count(*) FROM %s) AS after WHERE h0.note <> ''", last), p))
	fmt.Fprintf(&q, "SELECT %s, m.key, m.n, m.locked_until, m.window_end, m.note FROM %s LEFT JOIN m ON true",
		strings.Join(cols, ", "), strings.Join(from, " CROSS JOIN "))

	out := store.CounterReserved{Counters: make([]store.Counter, len(r.Hits))}
	locked := make([]int64, len(r.Hits))
	ends := make([]int64, len(r.Hits))
	var dest []any
	for i := range r.Hits {
		dest = append(dest, &out.Counters[i].Count, &locked[i], &ends[i], &out.Counters[i].Note)
	}
	var mKey, mNote *string
	var mN *int
	var mLocked, mEnd *int64
	dest = append(dest, &mKey, &mN, &mLocked, &mEnd, &mNote)
	if err := s.pool.QueryRow(ctx, q.String(), args...).Scan(dest...); err != nil {
		return store.CounterReserved{}, wrap("reserve counters", err)
	}
	for i := range out.Counters {
		out.Counters[i].LockedUntil, out.Counters[i].WindowEnd = tm(locked[i]), tm(ends[i])
	}
	if mKey != nil {
		out.NotedKey = *mKey
		out.Noted = store.Counter{Count: *mN, LockedUntil: tm(*mLocked), WindowEnd: tm(*mEnd), Note: *mNote}
	}
	return out, nil
}

// undoSet is UndoCounter's change; $1 is now.
const undoSet = `UPDATE throttle_counters SET n = n - 1 WHERE n > 0 AND window_end > $1 AND locked_until <= $1`

// UndoCounters is store.CounterSteps' step in one statement.
func (s *Store) UndoCounters(ctx context.Context, keys []string, viaNote bool, now time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	var q strings.Builder
	args := []any{ts(now)}
	q.WriteString("WITH ")
	prev := ""
	for i, k := range keys {
		args = append(args, k)
		fmt.Fprintf(&q, "u%d AS (%s AND key = $%d%s RETURNING note), ", i, undoSet, len(args), after(prev))
		prev = fmt.Sprintf("u%d", i)
	}
	if viaNote {
		fmt.Fprintf(&q, "m AS (%s AND key = (SELECT note FROM u0 WHERE note <> '')%s RETURNING note), ", undoSet, after(prev))
		prev = "m"
	}
	fmt.Fprintf(&q, "done AS (SELECT count(*) FROM %s) SELECT count(*) FROM done", prev)
	_, err := s.pool.Exec(ctx, q.String(), args...)
	return wrap("undo counters", err)
}

// after is the condition, always true, that makes a CTE's statement run after prev's ("": none).
func after(prev string) string {
	if prev == "" {
		return ""
	}
	return fmt.Sprintf(" AND (SELECT count(*) FROM %s) >= 0", prev)
}

// ClearCounters is store.CounterSteps' step in one statement.
func (s *Store) ClearCounters(ctx context.Context, key, undo string, look store.CounterHit, now time.Time) (store.Counter, error) {
	if look.Key == "" {
		_, err := s.pool.Exec(ctx, `WITH r AS (DELETE FROM throttle_counters WHERE key = $2 RETURNING note),
		u AS (`+undoSet+` AND key = $3`+after("r")+` RETURNING note),
		m AS (DELETE FROM throttle_counters WHERE key = (SELECT note FROM r WHERE note <> '')`+after("u")+` RETURNING note)
		SELECT count(*) FROM m`, ts(now), key, undo)
		return store.Counter{}, wrap("clear counters", err)
	}
	if look.Delta != 0 {
		return store.Counter{}, errors.New("postgres: clear counters: a look that counts")
	}
	args := []any{ts(now), key, undo}
	hitParams(&args, look, true)
	var c store.Counter
	var refused bool
	var locked, end int64
	err := s.pool.QueryRow(ctx, clearLookQuery, args...).Scan(&refused, &c.Count, &locked, &end, &c.Note)
	if err != nil {
		return store.Counter{}, wrap("clear counters", err)
	}
	if !refused {
		return store.Counter{}, nil
	}
	c.LockedUntil, c.WindowEnd = tm(locked), tm(end)
	return c, nil
}

// clearLookQuery is ClearCounters' statement with a look: $1 now, $2 the key to reset, $3 the
// key to undo, $4-$10 the look (hitParams). Whether the look refuses is decided on the member's
// row as the statement found it (g: a look refuses a counter that is locked, or whose window
// is open and holds the limit), so that the login's and the address's rows are still changed
// first (lock order login, address, member); g also computes the counter as the look leaves it.
// l, the look's change, runs unless the member's row is the one the login noted and is deleted
// (m) because the look did not refuse: one statement changes a row once.
var clearLookQuery = func() string {
	args := []any{nil, nil, nil} // the parameters' positions only
	p := hitParams(&args, store.CounterHit{}, true)
	at := func(expr string) string {
		return counterParam.ReplaceAllStringFunc(expr, func(m string) string { return p[m[1]-'0'] })
	}
	refused := `(c.locked_until > ` + p[2] + ` OR c.window_end > ` + p[2] + ` AND c.n >= ` + p[4] + `)`
	looked := `(` + at(counterNew[0][1]) + `) AS n, (` + at(counterNew[1][1]) + `) AS locked_until, (` +
		at(counterNew[2][1]) + `) AS window_end, c.note`
	return `WITH g AS (SELECT ` + refused + ` AS refused, ` + looked + `
			FROM throttle_counters AS c WHERE c.key = ` + p[1] + `::text),
		ok AS (SELECT NOT EXISTS (SELECT 1 FROM g WHERE g.refused) AS clear),
		r AS (DELETE FROM throttle_counters WHERE key = $2 AND (SELECT clear FROM ok) RETURNING note),
		u AS (` + undoSet + ` AND key = $3 AND (SELECT clear FROM ok)` + after("r") + ` RETURNING note),
		l AS (UPDATE throttle_counters AS c SET ` + counterSetAt(p) + `
			WHERE c.key = ` + p[1] + `::text AND c.key NOT IN (SELECT note FROM r)` + after("u") + ` RETURNING c.key),
		m AS (DELETE FROM throttle_counters WHERE key = (SELECT note FROM r WHERE note <> '')` + after("l") + ` RETURNING note)
		SELECT coalesce(g.refused, false), coalesce(g.n, 0), coalesce(g.locked_until, 0), coalesce(g.window_end, 0),
			coalesce(g.note, '') FROM ok LEFT JOIN g ON true, (SELECT count(*) FROM m) AS done`
}()

// counterColumn matches a column of the row counterNew's values read.
var counterColumn = regexp.MustCompile(`\bc\.(n|locked_until|window_end|expires_at)\b`)

// counterSetAfter is the SET of a hit with parameters p on the row as a first hit, with
// parameters first, leaves it: counterNew's values for p with each column of the row read
// replaced by the first hit's new value of it (each expression still reads the row as it was,
// so the two hits are one change of the row, as PostgreSQL needs: one statement changes a row
// once).
func counterSetAfter(first, p [8]string) string {
	at := func(expr string, p [8]string) string {
		return counterParam.ReplaceAllStringFunc(expr, func(m string) string { return p[m[1]-'0'] })
	}
	firstNew := map[string]string{}
	for _, c := range counterNew {
		firstNew["c."+c[0]] = "(" + at(c[1], first) + ")"
	}
	var set []string
	for _, c := range counterNew {
		set = append(set, c[0]+" = "+counterColumn.ReplaceAllStringFunc(at(c[1], p), func(m string) string { return firstNew[m] }))
	}
	return strings.Join(set, ",\n\t")
}

// NoteHitCounter is store.CounterSteps' step in one statement. The look at h.Key's counter
// and the hit that follows it are one change of its row (counterSetAfter) when both apply.
func (s *Store) NoteHitCounter(ctx context.Context, key string, h store.CounterHit, look int) (store.Counter, error) {
	if h.Delta < 1 {
		return store.Counter{}, errors.New("postgres: note and hit counter: a hit that counts nothing")
	}
	args := []any{key}
	hitParams(&args, h, true)
	q := s.noteHit[0]
	if look > 0 {
		l := h
		l.Delta, l.Limit = 0, look
		hitParams(&args, l, false)
		q = s.noteHit[1]
	}
	var c store.Counter
	var locked, end int64
	err := s.pool.QueryRow(ctx, q, args...).Scan(&c.Count, &locked, &end, &c.Note)
	if isNoRows(err) {
		return store.Counter{}, nil
	}
	if err != nil {
		return store.Counter{}, wrap("note and hit counter", err)
	}
	c.LockedUntil, c.WindowEnd = tm(locked), tm(end)
	return c, nil
}

var _ store.CounterSteps = (*Store)(nil)

// noteHitQuery is NoteHitCounter's statement, with the look (look) or without. The look at the
// key's counter and the hit that follows it are one change of its row (counterSetAfter) when
// both apply.
func noteHitQuery(look bool) string {
	var args []any // the parameters' positions only: $1 the key, $2-$8 the hit, $9-$14 the look
	args = append(args, "")
	p := hitParams(&args, store.CounterHit{}, true)
	set := counterSetAt(p)
	var lookSet string
	if look {
		pl := hitParams(&args, store.CounterHit{}, false)
		lookSet, set = counterSetAt(pl), counterSetAfter(pl, p)
	}
	// f's NOT EXISTS reads the row as the statement found it, before n noted h.Key: whether
	// the hit counts.
	q := `WITH n AS (UPDATE throttle_counters SET note = ` + p[1] + `::text, expires_at = GREATEST(expires_at, ` + p[7] + `::bigint)
			WHERE key = $1 AND note <> ` + p[1] + `::text RETURNING note),
		f AS (SELECT NOT EXISTS (SELECT 1 FROM throttle_counters WHERE key = $1 AND note = ` + p[1] + `::text) AS hit),
		m AS (INSERT INTO throttle_counters AS c (key, n, window_end, locked_until, note, expires_at)
			SELECT ` + p[1] + `::text, ` + p[3] + `::integer, ` + p[5] + `::bigint, 0, '', ` + p[7] + `::bigint
			FROM f, (SELECT count(*) FROM n) AS after WHERE f.hit
			ON CONFLICT (key) DO UPDATE SET ` + set + counterReturning + `)`
	result := ` SELECT n, locked_until, window_end, note FROM m`
	if look {
		// Only the look when the hit does not count (f.hit false: the two never change one row).
		q += `, l AS (UPDATE throttle_counters AS c SET ` + lookSet + ` FROM f
			WHERE c.key = ` + p[1] + `::text AND NOT f.hit AND (SELECT count(*) FROM n) >= 0 RETURNING c.n, c.locked_until, c.window_end, c.note)`
		result += ` UNION ALL SELECT n, locked_until, window_end, note FROM l`
	}
	return q + result
}
