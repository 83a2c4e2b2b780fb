package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// Token grants are the hot write path. SQLite has one writer, so under load every grant waits for
// the write connection; instead of running one transaction each, the grants waiting at a given
// moment are committed together (group commit): the first waiter becomes the leader, takes every
// queued grant, applies each inside its own SAVEPOINT (a failing grant rolls back alone) and
// commits once. Each grant keeps all-or-nothing semantics; what they share is the BEGIN/COMMIT
// cost and the pages several grants touch (table tails, page 1), which is most of a commit. With
// no concurrency the batch is one grant and no savepoint is used.

// maxIssueBatch bounds how many grants one transaction applies, and so how long it holds the
// write lock.
const maxIssueBatch = 64

type issueReq struct {
	ctx   context.Context
	in    *sso.Issue
	state atomic.Int32 // reqQueued, reqTaken or reqAbandoned
	err   error        // the outcome, valid once done is closed
	done  chan struct{}
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// issueQueue is the group-commit queue of a Store.
type issueQueue struct {
	mu      sync.Mutex
	pending []*issueReq
	leader  chan struct{} // capacity 1: held by the goroutine running batches
	batches atomic.Int64  // transactions run, for tests and benchmarks
}

func newIssueQueue() *issueQueue { return &issueQueue{leader: make(chan struct{}, 1)} }

// reuseError is what applyIssue returns for a reused rotated token: its writes (the family
// revocation) must be committed, and the caller gets ErrRefreshReused.
type reuseError struct{ familyID string }

func (e *reuseError) Error() string {
	return fmt.Sprintf("sqlite: issue tokens: family %s: %v", e.familyID, sso.ErrRefreshReused)
}

func (e *reuseError) Unwrap() error { return sso.ErrRefreshReused }

// IssueTokens applies one token grant atomically: consume the code, then insert a new family or
// rotate one in place. See sso.Issue and sso.Rotation for the semantics; ErrRefreshReused is
// returned after the family revocation has been committed.
func (s *Store) IssueTokens(ctx context.Context, in sso.Issue) error {
	if in.Family != nil && in.Family.FamilyID == "" {
		return errors.New("sqlite: issue tokens: family without id")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: issue tokens: %w", err)
	}

	r := &issueReq{ctx: ctx, in: &in, done: make(chan struct{})}
	q := s.issues
	q.mu.Lock()
	q.pending = append(q.pending, r)
	q.mu.Unlock()

	select {
	case <-r.done:
	case q.leader <- struct{}{}:
		// Let the grants that are ready to run reach the queue before taking it: with one
		// processor (GOMAXPROCS=1, the load runs) a leader would otherwise take a batch of
		// one every time, since the others only run once it parks. What runs meanwhile is
		// work the processor had to do anyway; with nothing else runnable this returns at once.
		runtime.Gosched()
		s.leadReleasing(r)
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return fmt.Errorf("sqlite: issue tokens: %w", ctx.Err())
		}
		<-r.done // a leader is applying it: its outcome is the truth
	}
	return r.err
}

// leadReleasing is lead, then gives the leader's place back, also when a grant panics (the
// panic goes on to this caller; the grants queued behind it get a leader).
func (s *Store) leadReleasing(r *issueReq) {
	defer func() { <-s.issues.leader }()
	s.lead(r)
}

// lead runs batches until r is done. The caller holds q.leader, so no other batch is running:
// r is either done or still pending.
func (s *Store) lead(r *issueReq) {
	q := s.issues
	for {
		select {
		case <-r.done:
			return
		default:
		}
		q.mu.Lock()
		n := min(len(q.pending), maxIssueBatch)
		batch := make([]*issueReq, 0, n)
		for _, p := range q.pending[:n] {
			if p.state.CompareAndSwap(reqQueued, reqTaken) {
				batch = append(batch, p)
			}
		}
		q.pending = slices.Delete(q.pending, 0, n)
		q.mu.Unlock()
		if len(batch) > 0 {
			s.runBatch(batch)
		}
	}
}

// runBatch applies batch in one transaction and reports every outcome.
func (s *Store) runBatch(batch []*issueReq) {
	s.issues.batches.Add(1)
	finished := false
	defer func() {
		if !finished { // a panic: do not leave the other callers waiting forever
			for _, r := range batch {
				if r.err == nil {
					r.err = errors.New("sqlite: issue tokens: batch aborted")
				}
			}
		}
		for _, r := range batch {
			close(r.done)
		}
	}()

	// One caller's cancelled context must not abort the others' grants.
	ctx := context.WithoutCancel(batch[0].ctx)
	now := s.clock()
	fail := func(err error) {
		for _, r := range batch {
			r.err = err
		}
	}
	if err := s.wgate.acquire(ctx); err != nil {
		fail(wrap("issue tokens: begin", err))
		finished = true
		return
	}
	defer s.wgate.release()
	if len(batch) == 1 && rotationOnly(batch[0].in) {
		if done := s.rotateAlone(ctx, batch[0], now); done {
			finished = true
			return
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		fail(wrap("issue tokens: begin", err))
		finished = true
		return
	}
	defer func() {
		if !finished { // a panic: end the transaction, which holds the one write connection
			_ = tx.Rollback()
		}
	}()

	if len(batch) == 1 {
		r := batch[0]
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("sqlite: issue tokens: %w", err)
		} else {
			r.err = s.applyIssue(ctx, tx, r.in, now)
		}
		var reuse *reuseError
		if r.err != nil && !errors.As(r.err, &reuse) {
			_ = tx.Rollback()
			finished = true
			return
		}
		if err := tx.Commit(); err != nil {
			r.err = wrap("issue tokens: commit", err)
		}
		finished = true
		return
	}

	applied := make([]bool, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("sqlite: issue tokens: %w", err)
			continue
		}
		if rotationOnly(r.in) {
			// A rotation writes at most one statement that it keeps (the compare-and-set, or
			// the revocation of a reused family), and a statement is atomic: one that fails
			// leaves nothing behind, so there is nothing for a savepoint to roll back.
			r.err = s.applyIssue(ctx, tx, r.in, now)
			var reuse *reuseError
			applied[i] = r.err == nil || errors.As(r.err, &reuse)
			continue
		}
		if _, err := tx.StmtContext(ctx, s.st.savepoint).ExecContext(ctx); err != nil {
			_ = tx.Rollback()
			fail(wrap("issue tokens: savepoint", err))
			finished = true
			return
		}
		r.err = s.applyIssue(ctx, tx, r.in, now)
		var reuse *reuseError
		keep := r.err == nil || errors.As(r.err, &reuse)
		if !keep {
			if _, err := tx.StmtContext(ctx, s.st.rollbackTo).ExecContext(ctx); err != nil {
				_ = tx.Rollback()
				fail(wrap("issue tokens: rollback to savepoint", err))
				finished = true
				return
			}
		}
		if _, err := tx.StmtContext(ctx, s.st.release).ExecContext(ctx); err != nil {
			_ = tx.Rollback()
			fail(wrap("issue tokens: release savepoint", err))
			finished = true
			return
		}
		applied[i] = keep
	}
	if err := tx.Commit(); err != nil {
		err = wrap("issue tokens: commit", err)
		for i, r := range batch {
			if applied[i] {
				r.err = err
			}
		}
	}
	finished = true
}

// rotationOnly reports whether in is a refresh rotation and nothing else (the refresh grant).
func rotationOnly(in *sso.Issue) bool {
	return in.Rotate != nil && in.ConsumeCodeHash == "" && in.Family == nil
}

// rotateAlone is the refresh grant's write when no other grant waits: the rotation's
// compare-and-set is one UPDATE, atomic by itself, so it runs as its own (autocommit)
// transaction, without a BEGIN and a COMMIT statement around it. It reports whether r is done;
// when the compare-and-set changes nothing, the caller runs r in a transaction of its own,
// which tries it again and finds out why (applyRotation). Splitting the two is safe because
// what that second look decides from only grows stale in one direction: a generation only
// increases and a revocation or an expiry is final, so a rotation refused now is refused
// for the same or a stronger reason then.
func (s *Store) rotateAlone(ctx context.Context, r *issueReq, now time.Time) bool {
	if err := r.ctx.Err(); err != nil {
		r.err = fmt.Errorf("sqlite: issue tokens: %w", err)
		return true
	}
	rot := r.in.Rotate
	at := ts(orNow(rot.Now, now))
	res, err := s.st.rotate.ExecContext(ctx, rot.NewHash, at, rot.FamilyID, rot.Generation, rot.OldHash, at)
	switch err = affectedOne(res, err); {
	case err == nil:
		r.err = nil
		return true
	case errors.Is(err, sql.ErrNoRows):
		return false
	default:
		r.err = wrap("issue tokens: rotate", err)
		return true
	}
}

// applyIssue writes one grant in tx. On error other than *reuseError the caller rolls its writes
// back.
func (s *Store) applyIssue(ctx context.Context, tx *sql.Tx, in *sso.Issue, now time.Time) error {
	if in.ConsumeCodeHash != "" {
		if err := s.consumeCode(ctx, tx, in.ConsumeCodeHash, ts(now)); err != nil {
			return fmt.Errorf("sqlite: issue tokens: %w", err)
		}
	}

	if rot := in.Rotate; rot != nil {
		if err := s.applyRotation(ctx, tx, rot, orNow(rot.Now, now)); err != nil {
			return err
		}
	}
	if f := in.Family; f != nil {
		if _, err := tx.StmtContext(ctx, s.st.insertFamily).ExecContext(ctx, f.FamilyID, f.Hash, f.Generation,
			f.ClientID, f.Subject, encList(f.Audience), encList(f.Scopes), f.SessionID, ts(f.AuthTime), encList(f.AMR),
			ts(orNow(f.CreatedAt, now)), ts(f.ExpiresAt), ts(f.RotatedAt), b2i(f.Revoked)); err != nil {
			return wrap("issue tokens: insert family", err)
		}
	}
	return nil
}

// applyRotation rotates a family in place with a compare-and-set on its generation and current
// hash; when that changes nothing, the family's state says why (sso.Rotation).
func (s *Store) applyRotation(ctx context.Context, tx *sql.Tx, rot *sso.Rotation, now time.Time) error {
	res, err := tx.StmtContext(ctx, s.st.rotate).ExecContext(ctx, rot.NewHash, ts(now), rot.FamilyID,
		rot.Generation, rot.OldHash, ts(now))
	if err = affectedOne(res, err); err == nil {
		return nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return wrap("issue tokens: rotate", err)
	}
	var (
		gen, expiresAt, rotatedAt, revoked int64
		hash                               string
	)
	err = tx.StmtContext(ctx, s.st.familyState).QueryRowContext(ctx, rot.FamilyID).Scan(&gen, &hash, &expiresAt, &rotatedAt, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: issue tokens: rotate: %w", sso.ErrNotFound)
	case err != nil:
		return wrap("issue tokens: rotate", err)
	case expiresAt <= ts(now):
		return fmt.Errorf("sqlite: issue tokens: rotate: %w", sso.ErrNotFound)
	case revoked != 0:
		return fmt.Errorf("sqlite: issue tokens: rotate: %w", sso.ErrTokenRevoked)
	case gen == rot.Generation+1 && hash == rot.NewHash && rot.Grace > 0 && ts(now)-rotatedAt <= int64(rot.Grace):
		return nil // a concurrent retry of the same rotation: the family is there already
	case gen > rot.Generation:
		// Reuse of a rotated token: kill the family, and make that stick.
		if _, err := tx.StmtContext(ctx, s.st.revokeFamily).ExecContext(ctx, rot.FamilyID); err != nil {
			return wrap("issue tokens: revoke reused family", err)
		}
		return &reuseError{familyID: rot.FamilyID}
	}
	return fmt.Errorf("sqlite: issue tokens: rotate: %w", sso.ErrNotFound)
}
