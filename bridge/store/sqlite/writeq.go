package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Every write runs through one group-commit queue. SQLite has one writer, so under load every
// write waits for the write connection; instead of running one transaction each (a BEGIN, the
// write lock, a COMMIT writing each changed page to the WAL), the writes waiting at a given
// moment share one: the first waiter becomes the leader, takes the queued writes in arrival
// order (at most maxWriteBatch), applies each inside its own SAVEPOINT (a failing one rolls
// back alone) and commits once. Each write keeps all-or-nothing semantics and sees the writes
// before it in the batch, exactly as if they had run one after another; what they share is the
// BEGIN/COMMIT cost and the pages several writes touch (a sign-in's rows land on the same
// right-edge leaf pages as its neighbours', since ids and keys are in time order), which is
// most of a commit. A write of one statement needs no savepoint (a statement that fails leaves
// nothing behind), and a batch of one such write runs it alone, in autocommit. A batch whose
// transaction cannot commit (a write's SQLITE_FULL, a failed COMMIT) runs its writes again in
// smaller transactions (runBatch), so each write's outcome is its own.
//
// The leader holds the write gate (wgate) from BEGIN to COMMIT, so a read on the free write
// connection (readStmt) never sees a batch's uncommitted writes.

// maxWriteBatch bounds how many writes one transaction applies, and so how long it holds the
// write lock and how long the last of them waits.
const maxWriteBatch = 64

// writeOp is one write waiting in the queue.
type writeOp struct {
	ctx    context.Context
	w      writer
	single bool // w runs one statement that it keeps (or none), so it needs no savepoint

	state atomic.Int32 // reqQueued, reqTaken or reqAbandoned
	err   error        // the outcome, valid once done is closed
	// final: err is the write's outcome, its transaction committed or held it alone (runTx);
	// only the leader reads and writes it.
	final bool
	// panicked is the write's own panic (apply, applyAlone), which its caller re-panics with
	// once done is closed: the leader that ran it may be another caller, or a background job.
	panicked *writePanic
	done     chan struct{}
}

// writePanic is a write's panic on its way to the write's own caller, with the stack where it
// happened (the leader's goroutine).
type writePanic struct {
	value any
	stack []byte
}

func (p *writePanic) Error() string {
	return fmt.Sprintf("sqlite: a write panicked: %v\n%s", p.value, p.stack)
}

// Unwrap is the panic's value when it is an error.
func (p *writePanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// writer is a write's work.
type writer interface {
	// apply applies the write in tx. ctx is the batch's: it does not end with the caller's
	// (a statement interrupted inside a transaction rolls the whole transaction back).
	apply(ctx context.Context, tx *sql.Tx) error
}

// aloneWriter is a writer that can apply itself without a transaction when it runs in a batch
// of its own; applyAlone reports whether it did (else apply runs in a transaction).
type aloneWriter interface {
	applyAlone(ctx context.Context) (bool, error)
}

// keeper is a writer some of whose errors still commit its writes (a reused refresh token's
// family revocation).
type keeper interface {
	keeps(err error) bool
}

// txFunc is a write of several statements (writeTx).
type txFunc func(ctx context.Context, tx *sql.Tx) error

func (f txFunc) apply(ctx context.Context, tx *sql.Tx) error { return f(ctx, tx) }

// funcWrite is a one-statement write given as functions (writeRow).
type funcWrite struct {
	writeOp
	fn    func(ctx context.Context, tx *sql.Tx) error
	alone func(ctx context.Context) error
}

func (w *funcWrite) apply(ctx context.Context, tx *sql.Tx) error  { return w.fn(ctx, tx) }
func (w *funcWrite) applyAlone(ctx context.Context) (bool, error) { return true, w.alone(ctx) }

// stmtWrite is one write statement, prepared (stmt) or not (query).
type stmtWrite struct {
	writeOp
	s     *Store
	stmt  *sql.Stmt
	query string
	args  []any
	res   sql.Result
}

func (w *stmtWrite) apply(ctx context.Context, tx *sql.Tx) (err error) {
	if w.stmt != nil {
		w.res, err = tx.StmtContext(ctx, w.stmt).ExecContext(ctx, w.args...)
	} else {
		w.res, err = tx.ExecContext(ctx, w.query, w.args...)
	}
	return err
}

func (w *stmtWrite) applyAlone(ctx context.Context) (_ bool, err error) {
	if w.stmt != nil {
		w.res, err = w.stmt.ExecContext(ctx, w.args...)
	} else {
		w.res, err = w.s.w.ExecContext(ctx, w.query, w.args...)
	}
	return true, err
}

// rawStmtWrite is a stmtWrite of a statement also prepared on the write connection's driver
// connection (raw picks it from rawConn), so that it can run there (rawWriter): alone in
// autocommit, or in a batch of such writes. Its args are strings, integers and nil.
type rawStmtWrite struct {
	stmtWrite
	raw func(rc *rawConn) rawStmt
}

func (w *rawStmtWrite) applyRaw(ctx context.Context, rc *rawConn) (err error) {
	w.res, err = rc.execArgs(ctx, w.raw(rc), w.args...)
	return err
}

func (w *rawStmtWrite) applyRawAlone(ctx context.Context, rc *rawConn) (bool, error) {
	return true, w.applyRaw(ctx, rc)
}

// wexecRaw is wexecStmt of a statement prepared on both connections (rawStmtWrite).
func (s *Store) wexecRaw(ctx context.Context, stmt *sql.Stmt, raw func(rc *rawConn) rawStmt, args ...any) (sql.Result, error) {
	w := &rawStmtWrite{stmtWrite: stmtWrite{s: s, stmt: stmt, args: args}, raw: raw}
	w.writeOp = writeOp{ctx: ctx, w: w, single: true}
	err := s.submit(&w.writeOp)
	return w.res, err
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// writeQueue is the group-commit queue of a Store.
type writeQueue struct {
	mu      sync.Mutex
	pending []*writeOp
	leader  chan struct{} // capacity 1: held by the goroutine running batches
	batches atomic.Int64  // batches run (transactions, or a write alone), for tests and benchmarks
	ops     atomic.Int64  // writes taken into batches
	raw     atomic.Int64  // transactions run on the driver connection (runTx: rawTxConn), for tests

	// What the metrics read (WriteStats): commits by how many writes they held, in buckets
	// of powers of two up to maxWriteBatch (commitSizes[i]: at most 1<<i writes) with the
	// writes they held; transactions that could not commit; the batches whose writes ran
	// again in smaller transactions, by cause.
	commitSizes  [commitBuckets]atomic.Int64
	commitWrites atomic.Int64
	failures     atomic.Int64
	retries      [2]atomic.Int64
}

// commitBuckets is how many powers of two, from 1 to maxWriteBatch, bound the commit sizes.
const commitBuckets = 7

const (
	retryWrite  = iota // a write's error ended the transaction
	retryCommit        // the COMMIT failed
)

// observe counts a commit of n writes.
func (q *writeQueue) observe(n int) {
	q.commitSizes[bits.Len(uint(n-1))].Add(1)
	q.commitWrites.Add(int64(n))
}

// WriteStats is what the group commit counted since the store opened (package metrics exports
// it).
type WriteStats struct {
	// Commits[i] is how many transactions (a write alone in autocommit included) committed
	// with at most CommitBounds[i] writes (and more than the bound before).
	Commits [commitBuckets]int64
	// Writes is how many writes those commits held.
	Writes int64
	// Failed is how many transactions could not commit: a write's error ended it (SQLITE_FULL,
	// SQLITE_IOERR) or its COMMIT failed.
	Failed int64
	// RetriedAfterWrite and RetriedAfterCommit are how many failed transactions of several
	// writes ran their writes again in smaller ones, after a write's error or a failed COMMIT.
	RetriedAfterWrite, RetriedAfterCommit int64
}

// CommitBounds are the upper bounds of WriteStats.Commits' buckets.
var CommitBounds = [commitBuckets]int{1, 2, 4, 8, 16, 32, maxWriteBatch}

// WriteStats reads the group commit's counters.
func (s *Store) WriteStats() WriteStats {
	q := s.writes
	var st WriteStats
	for i := range q.commitSizes {
		st.Commits[i] = q.commitSizes[i].Load()
	}
	st.Writes = q.commitWrites.Load()
	st.Failed = q.failures.Load()
	st.RetriedAfterWrite, st.RetriedAfterCommit = q.retries[retryWrite].Load(), q.retries[retryCommit].Load()
	return st
}

func newWriteQueue() *writeQueue { return &writeQueue{leader: make(chan struct{}, 1)} }

// errBatchAborted is the outcome of a write whose transaction another write's panic ended (a
// transaction that fails otherwise runs its writes again: runWrites).
var errBatchAborted = errors.New("sqlite: write batch aborted")

// writeTx runs fn as one write, all or nothing, in the group commit: it commits when fn returns
// nil and the batch commits. fn gets the context to use for its statements. fn may run more
// than once, each time in a new transaction of which only the last one's outcome counts (a batch
// that cannot commit runs its writes again: runWrites), so what it sets for its caller it sets
// on every run, never adding to what an earlier run left.
func (s *Store) writeTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.submit(&writeOp{ctx: ctx, w: txFunc(fn)})
}

// wexec runs one write statement in the group commit.
func (s *Store) wexec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	w := &stmtWrite{s: s, query: query, args: args}
	w.writeOp = writeOp{ctx: ctx, w: w, single: true}
	err := s.submit(&w.writeOp)
	return w.res, err
}

// wexecStmt runs one prepared write statement in the group commit.
func (s *Store) wexecStmt(ctx context.Context, stmt *sql.Stmt, args ...any) (sql.Result, error) {
	w := &stmtWrite{s: s, stmt: stmt, args: args}
	w.writeOp = writeOp{ctx: ctx, w: w, single: true}
	err := s.submit(&w.writeOp)
	return w.res, err
}

// writeRow runs a single-row write that returns its row (RETURNING) in the group commit. It is
// single (no savepoint, autocommit alone): its dest are integers and strings of NOT NULL
// columns, whose scan cannot fail once the statement ran.
func (s *Store) writeRow(ctx context.Context, q string, args []any, dest ...any) error {
	w := &funcWrite{
		fn: func(ctx context.Context, tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, q, args...).Scan(dest...)
		},
		alone: func(ctx context.Context) error {
			return s.w.QueryRowContext(ctx, q, args...).Scan(dest...)
		},
	}
	w.writeOp = writeOp{ctx: ctx, w: w, single: true}
	return s.submit(&w.writeOp)
}

// submit queues op and waits for its outcome, leading batches when no one else does. A caller
// whose ctx ends while op is still queued gets ctx's error and op is never applied; once a
// leader has taken op, its caller waits for the true outcome.
func (s *Store) submit(op *writeOp) error {
	if err := op.ctx.Err(); err != nil {
		return err
	}
	op.done = make(chan struct{})
	q := s.writes
	q.mu.Lock()
	if s.testNeighbour == nil {
		q.pending = append(q.pending, op)
	} else {
		q.pending = append(q.pending, s.neighbour(), op, s.neighbour())
	}
	q.mu.Unlock()

	select {
	case <-op.done:
	case q.leader <- struct{}{}:
		q.gather()
		s.leadReleasing(op)
	case <-op.ctx.Done():
		if op.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return op.ctx.Err()
		}
		<-op.done // a leader is applying it: its outcome is the truth
	}
	if op.panicked != nil {
		panic(op.panicked) // the write's own panic, in its own caller (the batch was rolled back)
	}
	return op.err
}

// maxGatherYields bounds how many times a new leader yields the processor before it takes the
// queue (gather).
const maxGatherYields = 4

// gather lets the writes that are ready to run reach the queue before a new leader takes it:
// with one processor (GOMAXPROCS=1, the load runs) a leader would otherwise take a batch of one
// every time, since the others only run once it parks. It yields the processor, and yields
// again, up to maxGatherYields times in all, as long as the last yield brought writes into the
// queue: a grant whose previous request is still finishing (an ID token signed after the
// commit, the answer written, the next request read, each after a yield of its own) reaches
// the queue a yield or two later, and with a single yield it waited for the next batch,
// leaving a commit at c=16 with 4.6 of the 16 grants in flight on average. What runs meanwhile
// is work the processor had to do anyway, each goroutine in turn (a yield puts the leader
// behind every goroutine ready to run, and none ahead of it twice); no timer and no wait for
// the network poller is involved: a yield that brings nothing ends it, and with nothing else
// runnable it returns at once.
func (q *writeQueue) gather() {
	q.mu.Lock()
	n := len(q.pending)
	q.mu.Unlock()
	for range maxGatherYields {
		runtime.Gosched()
		q.mu.Lock()
		m := len(q.pending)
		q.mu.Unlock()
		if m == n || m >= maxWriteBatch {
			return
		}
		n = m
	}
}

// neighbour is a write of testNeighbour's, queued next to every write in tests; no one waits
// for it.
func (s *Store) neighbour() *writeOp {
	return &writeOp{ctx: context.Background(), w: txFunc(s.testNeighbour), done: make(chan struct{})}
}

// leadReleasing is lead, then gives the leader's place back, also when lead panics (a write's
// own panic goes on in that write's caller instead: runBatch; the writes queued behind get a
// leader).
func (s *Store) leadReleasing(op *writeOp) {
	defer func() { <-s.writes.leader }()
	s.lead(op)
}

// lead runs batches until op is done. The caller holds q.leader, so no other batch is running:
// op is either done or still pending.
func (s *Store) lead(op *writeOp) {
	q := s.writes
	for {
		select {
		case <-op.done:
			return
		default:
		}
		// Take the write connection first, then the batch: what queues while a read on the
		// write connection or a checkpoint finishes joins this batch.
		ctx := context.WithoutCancel(op.ctx)
		if err := s.wgate.acquire(ctx); err != nil { // cannot fail: ctx does not end
			panic(err)
		}
		q.mu.Lock()
		n := min(len(q.pending), maxWriteBatch)
		batch := make([]*writeOp, 0, n)
		for _, p := range q.pending[:n] {
			if p.state.CompareAndSwap(reqQueued, reqTaken) {
				batch = append(batch, p)
			}
		}
		q.pending = slices.Delete(q.pending, 0, n)
		q.mu.Unlock()
		if len(batch) > 0 {
			s.runBatch(ctx, batch)
		} else {
			s.wgate.release()
		}
	}
}

// runBatch applies batch, reports every outcome and releases the write gate, which the caller
// holds. Each write gets its own outcome, the one it would have had running alone at its place
// in the arrival order: when the batch's transaction cannot commit, whether a write's error
// ended it (SQLITE_FULL, SQLITE_IOERR: it may have rolled everything back) or the COMMIT itself
// failed (a deferred constraint, a full disk), nothing of it is committed and its writes run
// again in smaller transactions (runWrites), down to one write alone, whose error is then its
// own. So a write that lost a compare-and-set still says so (ErrAuthRequestUsed, not "batch
// aborted") next to a write that cannot commit, the writes that can commit do, and no write is
// told it committed unless its transaction did.
func (s *Store) runBatch(ctx context.Context, batch []*writeOp) {
	q := s.writes
	q.batches.Add(1)
	q.ops.Add(int64(len(batch)))
	var cur *writeOp // the write whose own code (apply, applyAlone) is running
	defer func() {
		p := recover()
		var stack []byte
		if rp, ok := p.(*rawPanic); ok {
			p, stack = rp.value, rp.stack
		}
		if p != nil && cur != nil {
			// The write's own panic goes to its own caller (submit), not to this goroutine,
			// which may be another request's or a background job's without a recover.
			if stack == nil {
				stack = debug.Stack()
			}
			cur.panicked = &writePanic{value: p, stack: stack}
		}
		if p != nil {
			// A panic ended the transaction running (runTx rolls it back): the writes whose
			// outcome is not final yet fail, also a kept error's (its writes are rolled
			// back); those of transactions committed before keep theirs.
			for _, op := range batch {
				if !op.final {
					op.err = errBatchAborted
				}
			}
		}
		s.wgate.release()
		for _, op := range batch {
			close(op.done)
		}
		if p != nil && cur == nil {
			panic(p) // the queue's own failure, not a write's
		}
	}()
	s.runWrites(ctx, batch, &cur)
}

// runWrites applies ops in one transaction (runTx) and, when that transaction could not commit
// for a reason that may not be every write's own, runs them again in smaller ones: the writes
// before the one whose error ended the transaction together, that one alone, the writes after
// it together; after a failed COMMIT, which does not say whose write caused it, each half.
// Every transaction that commits or that holds one write alone makes its writes' outcomes
// final; each retry is a smaller transaction than the one that failed.
func (s *Store) runWrites(ctx context.Context, ops []*writeOp, cur **writeOp) {
	failedAt, err := s.runTx(ctx, ops, cur)
	if err == nil {
		return
	}
	q := s.writes
	q.failures.Add(1)
	if len(ops) == 1 {
		return // runTx gave the write its error
	}
	if failedAt >= 0 {
		q.retries[retryWrite].Add(1)
		if failedAt > 0 {
			s.runWrites(ctx, ops[:failedAt], cur)
		}
		s.runWrites(ctx, ops[failedAt:failedAt+1], cur)
		if failedAt+1 < len(ops) {
			s.runWrites(ctx, ops[failedAt+1:], cur)
		}
		return
	}
	q.retries[retryCommit].Add(1)
	half := len(ops) / 2
	s.runWrites(ctx, ops[:half], cur)
	s.runWrites(ctx, ops[half:], cur)
}

// runTx applies ops in one transaction, or a lone single-statement write in autocommit, and
// commits. It returns nil when the transaction committed or held one write (whose outcome is
// then its own error); otherwise nothing of ops is committed, their outcomes are not final, and
// it returns why, with the index of the write whose own error ended the transaction (-1: the
// COMMIT, or a statement of the queue's own, failed).
//
// A batch of rawTxWriters runs on the write connection's driver connection (rawTxConn), any
// other on a database/sql transaction (sqlTxConn): the same steps (runTxOn), the same
// outcomes.
func (s *Store) runTx(ctx context.Context, ops []*writeOp, cur **writeOp) (failedAt int, txErr error) {
	if !rawBatch(ops) {
		return s.runTxOn(ctx, &sqlTxConn{s: s}, ops, cur)
	}
	s.writes.raw.Add(1)
	err := s.onRaw(ctx, func(rc *rawConn) {
		failedAt, txErr = s.runTxOn(ctx, rawTxConn{rc}, ops, cur)
	})
	if err != nil {
		// Nothing was applied (no connection, statements that cannot be prepared, or Raw did
		// not run the function), and no write may be told it committed.
		failAll(ops, fmt.Errorf("begin: %w", err))
		return 0, nil
	}
	return failedAt, txErr
}

// failAll makes err the final outcome of every write of ops.
func failAll(ops []*writeOp, err error) {
	for _, op := range ops {
		op.err = err
		op.final = true
	}
}

// txConn is a connection runTxOn runs a transaction of writes on.
type txConn interface {
	// canAlone tells whether op, alone in its batch, can apply itself without a transaction;
	// applyAlone then tries, and reports whether it did (else it runs in a transaction).
	canAlone(op *writeOp) bool
	applyAlone(ctx context.Context, op *writeOp) (bool, error)
	begin(ctx context.Context) error
	apply(ctx context.Context, op *writeOp) error
	// savepoint runs one of the savepoint statements (spBegin, spRollback, spRelease).
	savepoint(ctx context.Context, which int) error
	// commit commits; when it fails no transaction is left open.
	commit(ctx context.Context) error
	rollback()
}

const (
	spBegin = iota
	spRollback
	spRelease
)

// runTxOn is runTx's work on tc.
func (s *Store) runTxOn(ctx context.Context, tc txConn, ops []*writeOp, cur **writeOp) (failedAt int, _ error) {
	q := s.writes
	final := func() {
		for _, op := range ops {
			op.final = true
		}
	}
	if op := ops[0]; len(ops) == 1 && tc.canAlone(op) {
		if err := op.ctx.Err(); err != nil { // its caller gave up before it was applied
			op.err = err
			final()
			return 0, nil
		}
		*cur = op
		done, err := tc.applyAlone(ctx, op)
		*cur = nil
		if done {
			op.err = err
			final()
			if err == nil {
				q.observe(1)
			}
			return 0, nil
		}
	}
	if err := tc.begin(ctx); err != nil {
		failAll(ops, fmt.Errorf("begin: %w", err)) // smaller transactions would not begin either
		return 0, nil
	}
	committed := false
	defer func() {
		if !committed {
			tc.rollback() // also on a write's panic
		}
	}()

	useSavepoints := len(ops) > 1
	keptFirst := false
	for i, op := range ops {
		if err := op.ctx.Err(); err != nil { // its caller gave up before it was applied
			op.err = err
			continue
		}
		sp := useSavepoints && !op.single
		if sp {
			if err := tc.savepoint(ctx, spBegin); err != nil {
				return i, fmt.Errorf("savepoint: %w", err)
			}
		}
		*cur = op
		op.err = tc.apply(ctx, op)
		*cur = nil
		kept := op.err == nil
		if k, ok := op.w.(keeper); ok && !kept {
			kept = k.keeps(op.err)
		}
		if i == 0 {
			keptFirst = kept
		}
		switch {
		case kept:
		case !useSavepoints:
			// The transaction is this one write: its error is its outcome.
			final()
			return i, nil
		case sp:
			if err := tc.savepoint(ctx, spRollback); err != nil {
				return i, fmt.Errorf("rollback to savepoint: %w", err)
			}
		case !statementOnlyError(op.err):
			// An error such as SQLITE_FULL, SQLITE_IOERR or an interrupt may have rolled the
			// whole transaction back, leaving the next writes to run in autocommit, each
			// committed on its own: end the transaction here.
			return i, op.err
		}
		if sp {
			if err := tc.savepoint(ctx, spRelease); err != nil {
				return i, fmt.Errorf("release savepoint: %w", err)
			}
		}
	}
	committed = true // a failed COMMIT leaves no transaction open (txConn.commit)
	if err := tc.commit(ctx); err != nil {
		err = fmt.Errorf("commit: %w", err)
		if len(ops) > 1 {
			return -1, err
		}
		if keptFirst {
			ops[0].err = err // never a success: its writes are not committed
		}
		final()
		return 0, err
	}
	final()
	q.observe(len(ops))
	return 0, nil
}

// sqlTxConn is txConn on a database/sql transaction of the write pool.
type sqlTxConn struct {
	s  *Store
	tx *sql.Tx
}

func (c *sqlTxConn) canAlone(op *writeOp) bool {
	_, ok := op.w.(aloneWriter)
	return ok
}

func (c *sqlTxConn) applyAlone(ctx context.Context, op *writeOp) (bool, error) {
	return op.w.(aloneWriter).applyAlone(ctx)
}

func (c *sqlTxConn) begin(ctx context.Context) (err error) {
	c.tx, err = c.s.w.BeginTx(ctx, nil)
	return err
}

func (c *sqlTxConn) apply(ctx context.Context, op *writeOp) error { return op.w.apply(ctx, c.tx) }

func (c *sqlTxConn) savepoint(ctx context.Context, which int) error {
	st := [...]*sql.Stmt{spBegin: c.s.st.savepoint, spRollback: c.s.st.rollbackTo, spRelease: c.s.st.release}[which]
	_, err := c.tx.StmtContext(ctx, st).ExecContext(ctx)
	return err
}

// commit commits. A COMMIT that fails (a deferred constraint, SQLITE_BUSY, SQLITE_FULL) leaves
// SQLite's transaction open; the driver (modernc.org/sqlite 1.62+) rolls it back before
// returning, so the connection goes back to the pool clean (TestWriteBatchCommitFails writes
// after it).
func (c *sqlTxConn) commit(context.Context) error { return c.tx.Commit() }

func (c *sqlTxConn) rollback() { _ = c.tx.Rollback() }

// statementOnlyError reports whether a single statement's error leaves the transaction as it
// was before the statement: a constraint violation (ON CONFLICT ABORT, the default, undoes the
// statement alone), a changed-nothing sql.ErrNoRows, or an error from Go (scanning, a check
// before the statement).
func statementOnlyError(err error) bool {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return true
	}
	return se.Code()&0xff == sqlite3lib.SQLITE_CONSTRAINT
}

// A batch of a login's writes and refresh rotations and nothing else (a new request, a new
// session's sign-in, a code or refresh grant: nearly all the writes of a loaded sign-in or
// token endpoint) runs on the write connection's driver connection, held through sql.Conn.Raw
// for the batch, with statements prepared there once (rawConn): BEGIN IMMEDIATE, COMMIT,
// ROLLBACK, the savepoint statements and the writes' own. database/sql's transaction costs a cancel context
// and a goroutine per transaction and the driver prepares its BEGIN and COMMIT each time; each
// statement through database/sql takes a Stmt per transaction, boxes and converts its
// arguments and allocates its result. The outcomes are the same as runTx's, step by step
// (rawTxConn): the same transaction, the same statements, the same failure handling
// (TestRawBatch*).

// rawTxWriter is a writer that can also apply itself with the driver's statements (rawConn)
// inside a transaction runTx began on rc: a rotation, a sign-in, a code grant, a new request, a
// login page's claim of its request.
// One of several statements (a sign-in, a code grant) runs in a SAVEPOINT of its own when its
// batch holds other writes, as on database/sql's transaction (rawTxConn.savepoint); the single
// statements that are also rawWriters may run alone, outside a transaction (applyRawAlone).
type rawTxWriter interface {
	// applyRaw is apply, inside the transaction runTx began on rc.
	applyRaw(ctx context.Context, rc *rawConn) error
}

// rawWriter is a rawTxWriter that, when single and alone in its batch, can also apply itself
// outside a transaction (applyRawAlone).
type rawWriter interface {
	rawTxWriter
	// applyRawAlone is aloneWriter.applyAlone, on rc outside a transaction.
	applyRawAlone(ctx context.Context, rc *rawConn) (bool, error)
}

// rawStmt is a statement prepared on the driver connection.
type rawStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// rawConn is the write connection's driver connection and the statements prepared on it. It is
// used only inside sql.Conn.Raw on the write pool's one connection, which database/sql gives to
// one user at a time, so only by one batch at a time (and Close).
type rawConn struct {
	dc                                            any // the driver connection the statements belong to
	begin, commit, rollback                       rawStmt
	rotateStmt, familyStateStmt, revokeFamilyStmt rawStmt
	familyStmt                                    rawStmt               // Family's read (readOnWriter)
	authRequestStmt, factorPresenceStmt           rawStmt               // a login's reads (readOnWriter)
	codeRequestStmt                               rawStmt               // ...
	savepoint, release, rollbackTo                rawStmt               // a write of several statements in a batch (rawTxWriter)
	insertSessionStmt, insertAuditStmt            rawStmt               // a sign-in's writes (signInWrite)
	completeWithCodeStmt, completeAuthRequestStmt rawStmt               // ...
	addSessionClientStmt                          rawStmt               // ...
	consumeCodeStmt, codeStateStmt                rawStmt               // a code grant's writes (issueWrite)
	consumeDeviceStmt, deviceStateStmt            rawStmt               // a device grant's (issueWrite)
	insertFamilyStmt, insertGrantStmt             rawStmt               // ...
	createAuthRequestStmt                         rawStmt               // a new request (CreateAuthRequest)
	claimAuthRequestStmt                          rawStmt               // the login page's claim (claimWrite)
	args                                          [25]driver.NamedValue // reused: one statement runs at a time
	// dest holds a row read: a family's, or a request's with CodeRequest's live.
	dest [max(familyColCount, authRequestColCount+1)]driver.Value
}

// rawConnFor returns the statements prepared on dc, preparing them when dc is not the
// connection they were prepared on (the first raw batch, or database/sql replaced a connection
// it found bad: the statements of the old one went with it, and are dropped unclosed).
func (s *Store) rawConnFor(ctx context.Context, dc any) (*rawConn, error) {
	rc := &s.raw
	if rc.dc == dc && dc != nil {
		return rc, nil
	}
	if s.rawClosed {
		return nil, errRawClosed
	}
	*rc = rawConn{}
	p, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("sqlite: driver connection %T cannot prepare statements", dc)
	}
	fresh := rawConn{dc: dc}
	for _, x := range []struct {
		dst *rawStmt
		q   string
	}{
		{&fresh.begin, "BEGIN IMMEDIATE"}, {&fresh.commit, "COMMIT"}, {&fresh.rollback, "ROLLBACK"},
		{&fresh.rotateStmt, rotateQuery}, {&fresh.familyStateStmt, familyStateQuery}, {&fresh.revokeFamilyStmt, revokeFamilyQuery},
		{&fresh.familyStmt, familyQuery},
		{&fresh.authRequestStmt, authRequestQuery}, {&fresh.factorPresenceStmt, factorPresenceQuery},
		{&fresh.codeRequestStmt, codeRequestQuery},
		{&fresh.savepoint, savepointQuery}, {&fresh.release, releaseQuery}, {&fresh.rollbackTo, rollbackToQuery},
		{&fresh.insertSessionStmt, insertSessionQuery}, {&fresh.insertAuditStmt, insertAuditQuery},
		{&fresh.completeWithCodeStmt, completeWithCodeQuery}, {&fresh.completeAuthRequestStmt, completeAuthRequestQuery},
		{&fresh.addSessionClientStmt, addSessionClientQuery},
		{&fresh.consumeCodeStmt, consumeCodeQuery}, {&fresh.codeStateStmt, codeStateQuery},
		{&fresh.consumeDeviceStmt, consumeDeviceQuery}, {&fresh.deviceStateStmt, deviceStateQuery},
		{&fresh.insertFamilyStmt, insertFamilyQuery}, {&fresh.insertGrantStmt, insertGrantQuery},
		{&fresh.createAuthRequestStmt, createAuthRequestQuery},
		{&fresh.claimAuthRequestStmt, claimAuthRequestQuery},
	} {
		st, err := p.PrepareContext(ctx, x.q)
		if err == nil {
			var ok bool
			if *x.dst, ok = st.(rawStmt); !ok {
				err = fmt.Errorf("driver statement %T cannot run with a context", st)
				_ = st.Close()
			}
		}
		if err != nil {
			_ = fresh.close()
			return nil, fmt.Errorf("sqlite: prepare %q on the write connection: %w", x.q, err)
		}
	}
	for i := range fresh.args {
		fresh.args[i].Ordinal = i + 1
	}
	*rc = fresh
	return rc, nil
}

// close closes the statements (on their live connection).
func (rc *rawConn) close() error {
	var errs []error
	for _, st := range []rawStmt{rc.begin, rc.commit, rc.rollback, rc.rotateStmt, rc.familyStateStmt, rc.revokeFamilyStmt, rc.familyStmt, rc.authRequestStmt, rc.factorPresenceStmt, rc.codeRequestStmt,
		rc.savepoint, rc.release, rc.rollbackTo, rc.insertSessionStmt, rc.insertAuditStmt, rc.completeWithCodeStmt, rc.completeAuthRequestStmt, rc.addSessionClientStmt,
		rc.consumeCodeStmt, rc.codeStateStmt, rc.consumeDeviceStmt, rc.deviceStateStmt, rc.insertFamilyStmt, rc.insertGrantStmt, rc.createAuthRequestStmt, rc.claimAuthRequestStmt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// closeRaw closes the statements prepared on the write connection, before the pool closes it:
// a connection closed with statements still open stays open (sqlite3_close_v2) with its file.
//
// It holds the write gate, which keeps s.raw to one user at a time (onRaw): a batch or a read
// still using the statements finishes first.
// errRawClosed is a use of the write connection's driver statements after closeRaw.
var errRawClosed = errors.New("sqlite: the store is closing")

func (s *Store) closeRaw() error {
	if err := s.wgate.acquire(context.Background()); err != nil { // cannot fail: the context does not end
		return err
	}
	defer s.wgate.release()
	s.rawClosed = true
	if s.raw.dc == nil {
		return nil
	}
	conn, err := s.w.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	var cerr error
	_ = conn.Raw(func(dc any) error {
		if dc == s.raw.dc {
			cerr = s.raw.close()
		}
		s.raw = rawConn{}
		return nil
	})
	return cerr
}

// exec runs a statement without arguments.
func (rc *rawConn) exec(ctx context.Context, st rawStmt) error {
	_, err := st.ExecContext(ctx, nil)
	return err
}

// execArgs runs st with args (at most len(rc.args)), through rc.args, which it clears. It
// converts only what database/sql would pass on unchanged or as an int64: a string, an int64,
// an int, nil. Any other type (a bool, an int32, a time.Time, a named string type, a
// driver.Valuer...), which database/sql would convert and the driver might store as something
// else, is refused before the statement runs (errRawArg), rather than stored differently than
// on database/sql's path.
func (rc *rawConn) execArgs(ctx context.Context, st rawStmt, args ...any) (driver.Result, error) {
	if len(args) > len(rc.args) {
		return nil, fmt.Errorf("%d arguments, at most %d", len(args), len(rc.args))
	}
	a := rc.args[:len(args)]
	for i, v := range args {
		switch n := v.(type) {
		case string, int64, nil:
		case int: // a driver value is an int64 (database/sql converts it)
			v = int64(n)
		default:
			for j := range a[:i] {
				a[j].Value = nil
			}
			return nil, fmt.Errorf("%w: argument %d is a %T", errRawArg, i+1, v)
		}
		a[i].Value = v
	}
	res, err := st.ExecContext(ctx, a)
	for i := range a {
		a[i].Value = nil
	}
	return res, err
}

// errRawArg is an argument of a type execArgs does not convert.
var errRawArg = errors.New("sqlite: the driver path takes only string, int64, int and nil arguments")

// rotate runs the rotation's compare-and-set (rotateQuery) and returns how many rows it changed.
func (rc *rawConn) rotate(ctx context.Context, rot *sso.Rotation, at int64) (int64, error) {
	a := rc.args[:6]
	atv := driver.Value(at) // boxed once for both places
	a[0].Value, a[1].Value, a[2].Value, a[3].Value, a[4].Value, a[5].Value = rot.NewHash, atv, rot.FamilyID, rot.Generation, rot.OldHash, atv
	res, err := rc.rotateStmt.ExecContext(ctx, a)
	for i := range a {
		a[i].Value = nil
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// familyState reads a family's state (familyStateQuery); found is false when there is no such
// family.
func (rc *rawConn) familyState(ctx context.Context, familyID string, st *familyState) (found bool, err error) {
	rc.args[0].Value = familyID
	row, found, err := rc.queryRow(ctx, rc.familyStateStmt, 1)
	if !found || err != nil {
		return false, err
	}
	defer clear(row)
	if err := row.Scan(&st.gen, &st.hash, &st.expiresAt, &st.rotatedAt, &st.revoked); err != nil {
		return false, fmt.Errorf("family state: %w", err)
	}
	return true, nil
}

// family reads a family by id, unless it has expired at now (familyQuery, Store.Family).
func (rc *rawConn) family(ctx context.Context, familyID string, now int64) (*sso.RefreshToken, error) {
	rc.args[0].Value, rc.args[1].Value = familyID, now
	row, found, err := rc.queryRow(ctx, rc.familyStmt, 2)
	if !found || err != nil {
		if err == nil {
			err = sql.ErrNoRows
		}
		return nil, err
	}
	defer clear(row)
	return scanFamily(row)
}

// authRequest reads a request by id, unless it has expired at now (authRequestQuery,
// Store.AuthRequest).
func (rc *rawConn) authRequest(ctx context.Context, id string, now int64) (*sso.AuthRequest, error) {
	rc.args[0].Value, rc.args[1].Value = id, now
	row, found, err := rc.queryRow(ctx, rc.authRequestStmt, 2)
	if !found || err != nil {
		if err == nil {
			err = sql.ErrNoRows
		}
		return nil, err
	}
	defer clear(row)
	return scanAuthRequest(row)
}

// codeRequest reads request id holding a code, unless the code has expired at now, and whether
// its session is live (codeRequestQuery, Store.CodeRequest).
func (rc *rawConn) codeRequest(ctx context.Context, id string, now int64) (ar *sso.AuthRequest, live bool, err error) {
	rc.args[0].Value, rc.args[1].Value = id, now
	row, found, err := rc.queryRow(ctx, rc.codeRequestStmt, 2)
	if !found || err != nil {
		if err == nil {
			err = sql.ErrNoRows
		}
		return nil, false, err
	}
	defer clear(row)
	ar, err = scanAuthRequestWith(row, &live)
	return ar, live, err
}

// factorPresence reads what factors a member has (factorPresenceQuery, Store.FactorPresence).
func (rc *rawConn) factorPresence(ctx context.Context, subject string) (p store.FactorPresence, err error) {
	rc.args[0].Value = subject
	row, found, err := rc.queryRow(ctx, rc.factorPresenceStmt, 1)
	if !found || err != nil {
		if err == nil {
			err = sql.ErrNoRows
		}
		return p, err
	}
	defer clear(row)
	err = row.Scan(&p.TOTP, &p.Passkeys, &p.ResetNotice)
	return p, err
}

// queryRow runs st, a query of one row or none, with the first nargs of rc.args (which it
// clears), and returns its row, read into rc.dest (good until the next statement on rc); found
// is false when there is none.
func (rc *rawConn) queryRow(ctx context.Context, st rawStmt, nargs int) (row valuesRow, found bool, err error) {
	args := rc.args[:nargs]
	rows, err := st.QueryContext(ctx, args)
	for i := range args {
		args[i].Value = nil
	}
	if err != nil {
		return nil, false, err
	}
	defer func() {
		if cerr := rows.Close(); err == nil && cerr != nil {
			clear(row)
			row, found, err = nil, false, cerr
		}
	}()
	n := len(rows.Columns())
	if n > len(rc.dest) {
		return nil, false, fmt.Errorf("%d columns, at most %d read", n, len(rc.dest))
	}
	dest := rc.dest[:n]
	switch err := rows.Next(dest); {
	case errors.Is(err, io.EOF):
		return nil, false, nil
	case err != nil:
		clear(dest)
		return nil, false, err
	}
	return valuesRow(dest), true, nil
}

// valuesRow is a row read from a driver statement, scanned as database/sql's Row.Scan would
// scan it into strings, integers, booleans (an integer 0 or 1) and nullable integers, but
// strictly: a value of another type is an error.
type valuesRow []driver.Value

func (r valuesRow) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("%d columns scanned into %d values", len(r), len(dest))
	}
	for i, d := range dest {
		ok := false
		switch d := d.(type) {
		case *string:
			*d, ok = r[i].(string)
		case *int64:
			*d, ok = r[i].(int64)
		case *int:
			var v int64
			v, ok = r[i].(int64)
			*d = int(v)
		case *bool:
			var v int64
			v, ok = r[i].(int64)
			ok = ok && (v == 0 || v == 1)
			*d = v == 1
		case *sql.NullInt64:
			switch v := r[i].(type) {
			case nil:
				*d, ok = sql.NullInt64{}, true
			case int64:
				*d, ok = sql.NullInt64{Int64: v, Valid: true}, true
			}
		}
		if !ok {
			return fmt.Errorf("column %d: %T scanned into %T", i, r[i], d)
		}
	}
	return nil
}

// consumeCode runs the code's compare-and-set (consumeCodeQuery) and returns how many rows it
// changed.
func (rc *rawConn) consumeCode(ctx context.Context, id, hash string, now int64) (int64, error) {
	res, err := rc.execArgs(ctx, rc.consumeCodeStmt, id, hash, now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// codeState reads a code's state (codeStateQuery); found is false when there is no such code.
func (rc *rawConn) codeState(ctx context.Context, id, hash string, now int64) (st codeStatus, found bool, err error) {
	rc.args[0].Value, rc.args[1].Value, rc.args[2].Value = id, hash, now
	row, found, err := rc.queryRow(ctx, rc.codeStateStmt, 3)
	if !found || err != nil {
		return codeStatus{}, false, err
	}
	defer clear(row)
	if err := row.Scan(&st.consumed, &st.expires, &st.sessionEnded); err != nil {
		return codeStatus{}, true, fmt.Errorf("code state: %w", err)
	}
	return st, true, nil
}

// insertFamily inserts a new family's state (insertFamilyQuery).
func (rc *rawConn) insertFamily(ctx context.Context, f *sso.RefreshToken) error {
	_, err := rc.execArgs(ctx, rc.insertFamilyStmt, f.FamilyID, f.Generation, f.Hash, int64(b2i(f.Revoked)), ts(f.ExpiresAt), ts(f.RotatedAt))
	return err
}

// insertGrant inserts a new family's grant (insertGrantQuery).
func (rc *rawConn) insertGrant(ctx context.Context, f *sso.RefreshToken, now time.Time) error {
	_, err := rc.execArgs(ctx, rc.insertGrantStmt, f.FamilyID, f.ClientID, f.Subject,
		encList(f.Audience), encList(f.Scopes), f.SessionID, ts(f.AuthTime), encList(f.AMR), ts(orNow(f.CreatedAt, now)))
	return err
}

// revokeFamily revokes a family (revokeFamilyQuery).
func (rc *rawConn) revokeFamily(ctx context.Context, familyID string) error {
	rc.args[0].Value = familyID
	_, err := rc.revokeFamilyStmt.ExecContext(ctx, rc.args[:1])
	rc.args[0].Value = nil
	return err
}

// rawBatch reports whether every write of ops can run on the driver connection (rawTxConn):
// every rawTxWriter (a grant, a sign-in, a new request, a claim); those that are not single get a
// savepoint of their own in a batch, as on database/sql's transaction.
func rawBatch(ops []*writeOp) bool {
	for _, op := range ops {
		if _, ok := op.w.(rawTxWriter); !ok {
			return false
		}
	}
	return true
}

// onRaw runs fn with the statements prepared on the write connection's driver connection,
// held through sql.Conn.Raw; the caller holds the write gate (wgate), which is what keeps s.raw
// to one user at a time. It fails, without running fn, when the connection cannot be had or
// its statements cannot be prepared.
//
// A panic in fn goes on only once Raw has returned: a panic inside Raw (or an error wrapping
// driver.ErrBadConn) makes database/sql close the connection, which for ":memory:" is the
// database. fn ends what it began on the connection before its panic leaves it (runTxOn
// rolls its transaction back).
func (s *Store) onRaw(ctx context.Context, fn func(rc *rawConn)) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var panicked *rawPanic
	defer func() {
		if panicked != nil {
			panic(panicked)
		}
	}()
	ran := false
	var prepErr error
	rawErr := conn.Raw(func(dc any) error {
		ran = true
		defer func() {
			if p := recover(); p != nil {
				panicked = &rawPanic{value: p, stack: debug.Stack()}
			}
		}()
		rc, err := s.rawConnFor(ctx, dc)
		if err != nil {
			prepErr = err
			return nil
		}
		fn(rc)
		return nil
	})
	switch {
	case prepErr != nil:
		return prepErr
	case !ran && rawErr == nil:
		return errors.New("the write connection did not run the function")
	case !ran:
		return rawErr
	}
	return nil
}

// rawPanic is a panic inside onRaw's sql.Conn.Raw, carried out of it, with the stack where
// it happened (runBatch unwraps it).
type rawPanic struct {
	value any
	stack []byte
}

// rawTxConn is txConn on the write connection's driver connection, for batches of
// rawTxWriters (rawBatch); those that are not single get savepoints.
type rawTxConn struct{ rc *rawConn }

// canAlone: a single rawWriter alone tries autocommit (applyRawAlone); any other write alone
// runs in a transaction.
func (c rawTxConn) canAlone(op *writeOp) bool {
	_, ok := op.w.(rawWriter)
	return ok && op.single
}

func (c rawTxConn) applyAlone(ctx context.Context, op *writeOp) (bool, error) {
	return op.w.(rawWriter).applyRawAlone(ctx, c.rc)
}

func (c rawTxConn) begin(ctx context.Context) error { return c.rc.exec(ctx, c.rc.begin) }

func (c rawTxConn) apply(ctx context.Context, op *writeOp) error {
	return op.w.(rawTxWriter).applyRaw(ctx, c.rc)
}

func (c rawTxConn) savepoint(ctx context.Context, which int) error {
	st := [...]rawStmt{spBegin: c.rc.savepoint, spRollback: c.rc.rollbackTo, spRelease: c.rc.release}[which]
	return c.rc.exec(ctx, st)
}

// commit commits. A COMMIT that fails (a deferred constraint, SQLITE_BUSY, SQLITE_FULL) may
// leave the transaction open: roll it back, as the driver's own Commit does (a ROLLBACK with no
// transaction open fails harmlessly).
func (c rawTxConn) commit(ctx context.Context) error {
	err := c.rc.exec(ctx, c.rc.commit)
	if err != nil {
		c.rollback()
	}
	return err
}

func (c rawTxConn) rollback() { _ = c.rc.exec(context.Background(), c.rc.rollback) }
