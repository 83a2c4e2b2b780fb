package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Memory is the path of a private in-memory database.
const Memory = ":memory:"

// Page cache bounds of a file database, per connection (PRAGMA cache_size; SQLite's default is
// 2000 KiB). Each connection keeps its own cache, outside the Go heap (modernc's C allocator puts
// each page in an 8 KiB slot, so a full cache takes about twice its size), and it only grows:
// with the default, the resident set grew with the database through a long sign-in run. The
// write connection keeps its cache across transactions (no other connection writes), so it gets
// the larger share, for the B-tree interior pages it walks on every commit; a page it misses is
// one pread from the OS page cache. A read connection's cache is emptied whenever it starts a
// transaction after another connection committed, as happens between nearly all reads under
// load, so a large one buys nothing.
const (
	writeCacheKiB = 512
	readCacheKiB  = 256
)

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	w     *sql.DB // write pool: exactly one connection, BEGIN IMMEDIATE
	r     *sql.DB // read pool: query_only connections (== w for ":memory:")
	clock func() time.Time
	st    stmts

	writes *writeQueue // group commit of every write (writeq.go)
	raw    rawConn     // the write connection's driver statements, for batches of rotations (runTx: rawTxConn) and Family (readOnWriter)
	// rawClosed is set by closeRaw (under the write gate, as raw): no statement is prepared on
	// the write connection again, so that closing the databases finds none open.
	rawClosed bool
	// rawReads counts the reads run on raw's statements (readOnWriter), for tests.
	rawReads atomic.Int64
	// wgate and rgate take turns at the write connection and the read pool in arrival order
	// (fifo.go); for ":memory:" they are one gate, as the pools are one connection.
	wgate, rgate *fifoGate

	stopCheckpoints func() // stops the background checkpointer; nil when there is none
	busyTimeout     time.Duration

	// testNeighbour, set by tests before any write, is a write queued before and after every
	// write, in its batch (a write that fails, to check that its neighbours' outcomes are their
	// own).
	testNeighbour func(ctx context.Context, tx *sql.Tx) error
	// testAfterClientWalk, set by tests, runs between DeleteClientCounted's walk of the
	// client's rows and its write transaction.
	testAfterClientWalk func()
}

var (
	_ store.Store = (*Store)(nil)
	_ sso.Store   = (*Store)(nil)
)

type options struct {
	clock       func() time.Time
	readConns   int
	busyTimeout time.Duration
	checkpoint  time.Duration
}

// Option configures Open.
type Option func(*options)

// WithClock sets the clock used for expiry checks and default timestamps (tests). The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}

// WithReadConns sets the size of the read pool of a file database (default: max(2, GOMAXPROCS),
// defaultReadConns).
// It has no effect on ":memory:".
func WithReadConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.readConns = n
		}
	}
}

// WithBusyTimeout sets how long a connection waits for a lock held by another process before it
// fails with SQLITE_BUSY (default 5s).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.busyTimeout = d
		}
	}
}

// WithCheckpointInterval sets how often a background goroutine checkpoints the WAL of a file
// database into the main file (default 1s). Checkpointing in the background keeps that work off
// the commit path of token grants and writes each page once per interval, however often it
// changed; a tick that finds 1000 pages or more in the WAL also makes the next write start it
// over (finishCheckpoint), so under sustained writes it stays about one interval of writes
// long. With d <= 0 there is no background checkpointer and SQLite checkpoints on commit
// every 1000 pages. It has no effect on ":memory:".
func WithCheckpointInterval(d time.Duration) Option {
	return func(o *options) { o.checkpoint = d }
}

// defaultReadConns is the read pool's default size: one connection per processor that runs Go
// code (SQLite runs as Go code here: a read holds its processor while it runs), and at least
// two, so that a read preempted while it holds a connection does not hold up the next. Each
// connection has its own schema, prepared statements and page cache in SQLite's C allocator,
// outside the Go heap: with GOMAXPROCS=1 the earlier floor of four kept two more of them (about
// 0.5-1 MB resident under load) for no concurrency.
func defaultReadConns() int { return max(2, runtime.GOMAXPROCS(0)) }

// Open opens (creating if needed, mode 0600) the SQLite database at path, or a private
// in-memory database when path is ":memory:", and applies pending schema migrations.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{
		clock:       time.Now,
		readConns:   defaultReadConns(),
		busyTimeout: 5 * time.Second,
		checkpoint:  time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}

	s := &Store{clock: o.clock, writes: newWriteQueue(), busyTimeout: o.busyTimeout}
	common := url.Values{}
	common.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)+")")
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(NORMAL)")
	common.Add("_pragma", "temp_store(MEMORY)")

	if path == Memory {
		q := cloneValues(common)
		q.Set("_txlock", "immediate")
		db, err := sql.Open("sqlite", ":memory:?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		// An in-memory database lives only as long as its connection: keep exactly one, forever.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.w, s.r = db, db
		s.wgate = newFIFOGate(1)
		s.rgate = s.wgate
	} else {
		if strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("sqlite: open: path %q must not contain '?' or '#'", path)
		}
		if strings.HasPrefix(path, "file:") {
			return nil, fmt.Errorf("sqlite: open: path %q must be a file path, not a URI", path)
		}
		// Create the file ourselves so that it (and the -wal/-shm files SQLite derives from it)
		// is private to the service user.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}

		wq := cloneValues(common)
		wq.Set("_txlock", "immediate")
		wq.Add("_pragma", "journal_mode(WAL)")
		wq.Add("_pragma", "cache_size("+strconv.Itoa(-writeCacheKiB)+")")
		// Keep the WAL file from staying huge after a burst once it has been reset.
		wq.Add("_pragma", "journal_size_limit(67108864)")
		if o.checkpoint > 0 {
			// The background checkpointer does the work; this is only a backstop for when it
			// cannot keep up (or readers keep it from completing).
			wq.Add("_pragma", "wal_autocheckpoint(20000)")
		}
		w, err := sql.Open("sqlite", path+"?"+wq.Encode())
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		s.w = w
		// Switch to WAL (persistent) before any reader connects.
		if err := w.PingContext(ctx); err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}

		rq := cloneValues(common)
		rq.Add("_pragma", "query_only(1)")
		rq.Add("_pragma", "cache_size("+strconv.Itoa(-readCacheKiB)+")")
		r, err := sql.Open("sqlite", path+"?"+rq.Encode())
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		r.SetMaxOpenConns(o.readConns)
		s.wgate, s.rgate = newFIFOGate(1), newFIFOGate(o.readConns)
		r.SetMaxIdleConns(o.readConns)
		r.SetConnMaxLifetime(0)
		r.SetConnMaxIdleTime(5 * time.Minute)
		s.r = r
	}

	if err := s.w.PingContext(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, s.w, ts(s.clock())); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.st.prepare(ctx, s.w, s.r); err != nil {
		s.st.close()
		s.closeDBs()
		return nil, err
	}
	if path != Memory && o.checkpoint > 0 {
		s.startCheckpoints(o.checkpoint)
	}
	return s, nil
}

// startCheckpoints runs PASSIVE checkpoints every interval on a read-pool connection: a passive
// checkpoint takes no write lock, so grants keep committing while it copies pages.
func (s *Store) startCheckpoints(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var idle walIdle
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.checkpointTick(ctx, &idle)
			}
		}
	}()
	s.stopCheckpoints = func() {
		cancel()
		<-done
	}
}

// walIdle is what the checkpointer saw at its last tick.
type walIdle struct {
	frames int64 // frames in the WAL after the last passive checkpoint, all of them copied back
}

// checkpointTick copies the WAL back into the main file with a PASSIVE checkpoint (no write lock:
// grants keep committing meanwhile). When the WAL has stayed the same since the previous tick and
// was wholly copied back, nothing is writing: it is then truncated to zero bytes (truncateWAL:
// given up at once while a reader still reads the WAL, never waited for), so that after a burst
// the database on disk is the main file alone instead of the main file plus up to
// journal_size_limit of spent WAL.
// Errors (SQLITE_BUSY while another checkpoint runs, a closing pool) are not fatal: the next
// tick, or the writer's auto-checkpoint, catches up.
func (s *Store) checkpointTick(ctx context.Context, idle *walIdle) {
	var busy, frames, copied int64
	if err := s.r.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		idle.frames = 0
		return
	}
	if busy != 0 || frames <= 0 || copied != frames {
		idle.frames = 0
		return
	}
	if frames != idle.frames {
		idle.frames = frames // wholly copied; truncate next tick if nothing is written meanwhile
		if frames >= walRestartFrames {
			s.finishCheckpoint(ctx)
		}
		return
	}
	idle.frames = 0
	s.truncateWAL(ctx)
}

// walRestartFrames is the WAL length (frames of one page) from which a checkpoint tick makes
// sure the next write starts the WAL over (finishCheckpoint): about 4 MiB.
const walRestartFrames = 1000

// finishCheckpoint copies back, on the write connection and holding it, what was committed
// while the tick's passive checkpoint ran, so that the whole WAL is in the main file at a
// moment no write can follow: the next write then starts the WAL over from its beginning
// instead of appending to it. Without it, under sustained writes a commit nearly always landed
// while the passive checkpoint ran, the WAL was never started over, and it grew until the
// write connection's auto-checkpoint (wal_autocheckpoint, 20000 pages, about 80 MiB) did this
// inside a commit, copying everything since the last tick there, and truncated it to
// journal_size_limit. Here the write connection is held for the copy of what one passive
// checkpoint's run let through only (a write waits for it in turn); a reader still reading an
// older part of the WAL makes it copy less, and the next tick tries again.
func (s *Store) finishCheckpoint(ctx context.Context) {
	if err := s.wgate.acquire(ctx); err != nil {
		return
	}
	defer s.wgate.release()
	var busy, frames, copied int64
	_ = s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
}

// truncateWAL runs a TRUNCATE checkpoint on a read connection whose busy timeout is 0 for it:
// the checkpoint takes the write lock and then waits, through the busy handler, for every
// reader still reading the WAL; with the pool's busy timeout a reader that keeps a snapshot (an
// operator's `sqlite3 .backup`, any long read) held every write back for that long. Without
// one it gives up at once, and a later idle tick tries again.
func (s *Store) truncateWAL(ctx context.Context) {
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err != nil {
		return
	}
	_, _ = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = `+strconv.FormatInt(s.busyTimeout.Milliseconds(), 10)); err != nil {
		// A connection left without its busy timeout must not go back to the pool.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func (s *Store) closeDBs() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Close stops the background checkpointer and closes the prepared statements and both pools.
func (s *Store) Close() error {
	if s.stopCheckpoints != nil {
		s.stopCheckpoints()
		s.stopCheckpoints = nil
	}
	err := errors.Join(s.closeRaw(), s.st.close())
	err = errors.Join(err, s.closeDBs())
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlite: ping: %w", err)
		}
	}
	return nil
}

// ---- encoding ----

// ts encodes a time as unix nanoseconds; the zero time is 0. Times outside the int64 range
// (years before 1678 or after 2262) are clamped.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if y := t.Year(); y >= 2262 {
		if t.After(maxTime) {
			return math.MaxInt64
		}
	} else if y <= 1678 && t.Before(minTime) {
		return math.MinInt64 + 1
	}
	return t.UnixNano()
}

var (
	maxTime = time.Unix(0, math.MaxInt64)
	minTime = time.Unix(0, math.MinInt64+1)
)

// tm decodes ts.
func tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// encList stores a string list as a JSON array; an empty list is "".
func encList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	// Fast path for the common case: no character that needs escaping.
	n := 2 + len(l) - 1
	plain := true
	for _, v := range l {
		n += len(v) + 2
		for i := 0; i < len(v) && plain; i++ {
			if c := v[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
				plain = false
			}
		}
	}
	if plain {
		var b strings.Builder
		b.Grow(n)
		b.WriteByte('[')
		for i, v := range l {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('"')
			b.WriteString(v)
			b.WriteByte('"')
		}
		b.WriteByte(']')
		return b.String()
	}
	j, err := json.Marshal(l)
	if err != nil { // cannot happen for []string
		panic(err)
	}
	return string(j)
}

// decList decodes encList.
// listCol is a list column read from a row and the field it decodes into.
type listCol struct {
	dst *[]string
	src string
}

// decLists decodes several list columns into their fields.
func decLists(cols ...listCol) error {
	for _, c := range cols {
		l, err := decList(c.src)
		if err != nil {
			return err
		}
		*c.dst = l
	}
	return nil
}

func decList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	// Fast path: a list written by the fast path of encList.
	if len(s) >= 4 && s[0] == '[' && s[len(s)-1] == ']' && !strings.ContainsRune(s, '\\') {
		inner := s[1 : len(s)-1]
		parts := strings.Split(inner, `","`)
		ok := true
		for i, p := range parts {
			if i == 0 {
				if !strings.HasPrefix(p, `"`) {
					ok = false
					break
				}
				p = p[1:]
			}
			if i == len(parts)-1 {
				if !strings.HasSuffix(p, `"`) {
					ok = false
					break
				}
				p = p[:len(p)-1]
			}
			if strings.ContainsRune(p, '"') {
				ok = false
				break
			}
			parts[i] = p
		}
		if ok {
			return parts, nil
		}
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode list %q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// ---- errors ----

func sqliteCode(err error) int {
	var e *sqlite3.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isConflict reports a primary-key or unique constraint violation.
func isConflict(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE
}

// wrap adds the operation to err, mapping driver errors to the sso sentinels.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: %s: %w", op, sso.ErrNotFound)
	case isConflict(err):
		return fmt.Errorf("sqlite: %s: %w: %w", op, sso.ErrConflict, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
