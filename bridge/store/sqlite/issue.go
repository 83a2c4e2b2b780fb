package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// reuseError is what applyIssue returns for a reused rotated token: its writes (the family
// revocation) must be committed, and the caller gets ErrRefreshReused.
type reuseError struct{ familyID string }

func (e *reuseError) Error() string {
	return fmt.Sprintf("sqlite: issue tokens: family %s: %v", e.familyID, sso.ErrRefreshReused)
}

func (e *reuseError) Unwrap() error { return sso.ErrRefreshReused }

// IssueTokens applies one token grant atomically: consume the code or the device code, then insert a new family or
// rotate one in place. See sso.Issue and sso.Rotation for the semantics; ErrRefreshReused is
// returned after the family revocation has been committed.
func (s *Store) IssueTokens(ctx context.Context, in sso.Issue) error {
	if in.Family != nil && in.Family.FamilyID == "" {
		return errors.New("sqlite: issue tokens: family without id")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: issue tokens: %w", err)
	}

	w := &issueWrite{s: s, in: in}
	w.writeOp = writeOp{ctx: ctx, w: w, single: rotationOnly(&w.in)}
	switch err := s.submit(&w.writeOp); {
	case err == nil:
		return nil
	case err == w.own:
		return err
	default:
		return wrap("issue tokens", err)
	}
}

// issueWrite is one grant in the group commit.
type issueWrite struct {
	writeOp
	s   *Store
	in  sso.Issue
	own error // the error the grant's own writes returned, already wrapped
}

func (w *issueWrite) apply(ctx context.Context, tx *sql.Tx) error {
	w.own = applyIssue(ctx, txRotation{s: w.s, tx: tx}, &w.in, w.s.clock())
	return w.own
}

func (w *issueWrite) keeps(err error) bool {
	var reuse *reuseError
	return errors.As(err, &reuse)
}

// rotationOnly reports whether in is a refresh rotation and nothing else (the refresh grant).
func rotationOnly(in *sso.Issue) bool {
	return in.Rotate != nil && in.ConsumeCodeHash == "" && in.Family == nil
}

// applyIssue writes one grant with x's statements. On error other than *reuseError the caller
// rolls its writes back.
func applyIssue(ctx context.Context, x issueStmts, in *sso.Issue, now time.Time) error {
	if in.ConsumeCodeHash != "" {
		if in.ConsumeCodeRequest == "" {
			return errNoCodeRequest
		}
		if err := consumeCode(ctx, x, in.ConsumeCodeRequest, in.ConsumeCodeHash, ts(now)); err != nil {
			return fmt.Errorf("sqlite: issue tokens: %w", err)
		}
	}
	if c := in.ConsumeDevice; c != nil {
		if err := consumeDevice(ctx, x, c, ts(orNow(c.Now, now))); err != nil {
			return fmt.Errorf("sqlite: issue tokens: %w", err)
		}
	}

	if rot := in.Rotate; rot != nil {
		if _, err := rotateFamily(ctx, x, rot, ts(orNow(rot.Now, now)), true); err != nil {
			return err
		}
	}
	if f := in.Family; f != nil {
		if err := x.insertFamily(ctx, f); err != nil {
			return wrap("issue tokens: insert family", err)
		}
		if err := x.insertGrant(ctx, f, now); err != nil {
			return wrap("issue tokens: insert family grant", err)
		}
	}
	return nil
}

// errNoCodeRequest: the store finds a code by its request (sso.CodeRequestReader), and nothing
// finds one by its hash alone without scanning the requests.
var errNoCodeRequest = errors.New("sqlite: issue tokens: a code is consumed by its request's id (sso.Issue.ConsumeCodeRequest)")

// consumeCode marks the code hash of request id consumed (compare-and-set); when that changes
// nothing, the code's state says why: ErrNotFound (unknown, another code, or expired),
// ErrCodeConsumed, or ErrSessionEnded (its session ended, or is no longer held).
func consumeCode(ctx context.Context, x issueStmts, id, hash string, now int64) error {
	switch n, err := x.consumeCode(ctx, id, hash, now); {
	case err != nil:
		return fmt.Errorf("consume code: %w", err)
	case n != 0:
		return nil
	}
	st, found, err := x.codeState(ctx, id, hash, now)
	switch {
	case err != nil: // first: the driver path reports found false with its error
		return fmt.Errorf("consume code: %w", err)
	case !found || st.expires <= now:
		return fmt.Errorf("consume code: %w", sso.ErrNotFound)
	case !st.consumed && st.sessionEnded:
		return fmt.Errorf("consume code: %w", sso.ErrSessionEnded)
	default:
		return fmt.Errorf("consume code: %w", sso.ErrCodeConsumed)
	}
}

// codeStatus is what codeStateQuery reads of a code that was not consumed.
type codeStatus struct {
	expires  int64
	consumed bool
	// sessionEnded: the code names a session the store holds as ended or expired, or no
	// longer holds (purged after its end or expiry).
	sessionEnded bool
}

// issueStmts are a grant's statements, run in a database/sql transaction (txRotation) or on the
// write connection's driver connection (rawConn).
type issueStmts interface {
	rotationStmts
	// consumeCode runs the compare-and-set of request id's code hash and returns how many rows
	// it changed.
	consumeCode(ctx context.Context, id, hash string, now int64) (int64, error)
	// codeState reads the state of request id's code hash, its session's at now; found is
	// false when there is no such code.
	codeState(ctx context.Context, id, hash string, now int64) (st codeStatus, found bool, err error)
	// consumeDevice runs the compare-and-set of client clientID's device code hash
	// (consumeDeviceQuery) and returns how many rows it changed.
	consumeDevice(ctx context.Context, hash, clientID string, now int64) (int64, error)
	// deviceState reads the state of client clientID's device code hash, its session's at
	// now; found is false when there is no such authorization.
	deviceState(ctx context.Context, hash, clientID string, now int64) (st deviceStatus, found bool, err error)
	insertFamily(ctx context.Context, f *sso.RefreshToken) error
	insertGrant(ctx context.Context, f *sso.RefreshToken, now time.Time) error
}

// rotationStmts are the rotation's statements, run in a database/sql transaction (txRotation)
// or on the write connection's driver connection (rawConn).
type rotationStmts interface {
	// rotate runs the compare-and-set (rotateQuery) and returns how many rows it changed.
	rotate(ctx context.Context, rot *sso.Rotation, at int64) (int64, error)
	// familyState reads a family's state (familyStateQuery); found is false when there is none.
	familyState(ctx context.Context, familyID string, st *familyState) (found bool, err error)
	// revokeFamily revokes a family (revokeFamilyQuery).
	revokeFamily(ctx context.Context, familyID string) error
}

// rotateFamily rotates a family in place at at with a compare-and-set on its generation and
// current hash (rs.rotate). When that changes nothing and explain is set, the family's state
// says why (refusedRotation, sso.Rotation); without explain it only reports that the rotation
// is not done (applyRawAlone's autocommit try, which a transaction then explains). done is
// true whenever err is the rotation's outcome.
func rotateFamily(ctx context.Context, rs rotationStmts, rot *sso.Rotation, at int64, explain bool) (done bool, err error) {
	switch n, err := rs.rotate(ctx, rot, at); {
	case err != nil:
		return true, wrap("issue tokens: rotate", err)
	case n != 0:
		return true, nil
	case !explain:
		return false, nil
	}
	var st familyState
	switch found, err := rs.familyState(ctx, rot.FamilyID, &st); {
	case err != nil:
		return true, wrap("issue tokens: rotate", err)
	case !found:
		return true, fmt.Errorf("sqlite: issue tokens: rotate: %w", sso.ErrNotFound)
	}
	return true, refusedRotation(rot, &st, at, func() error { return rs.revokeFamily(ctx, rot.FamilyID) })
}

// txRotation is rotationStmts in a database/sql transaction, with the write pool's prepared
// statements.
type txRotation struct {
	s  *Store
	tx *sql.Tx
}

func (r txRotation) rotate(ctx context.Context, rot *sso.Rotation, at int64) (int64, error) {
	res, err := r.tx.StmtContext(ctx, r.s.st.rotate).ExecContext(ctx, rot.NewHash, at, rot.FamilyID, rot.Generation, rot.OldHash, at)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (r txRotation) familyState(ctx context.Context, familyID string, st *familyState) (bool, error) {
	err := r.tx.StmtContext(ctx, r.s.st.familyState).QueryRowContext(ctx, familyID).Scan(&st.gen, &st.hash, &st.expiresAt, &st.rotatedAt, &st.revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (r txRotation) revokeFamily(ctx context.Context, familyID string) error {
	_, err := r.tx.StmtContext(ctx, r.s.st.revokeFamily).ExecContext(ctx, familyID)
	return err
}

func (r txRotation) consumeCode(ctx context.Context, id, hash string, now int64) (int64, error) {
	res, err := r.tx.StmtContext(ctx, r.s.st.consumeCode).ExecContext(ctx, id, hash, now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (r txRotation) codeState(ctx context.Context, id, hash string, now int64) (codeStatus, bool, error) {
	var st codeStatus
	err := r.tx.StmtContext(ctx, r.s.st.codeState).QueryRowContext(ctx, id, hash, now).Scan(&st.consumed, &st.expires, &st.sessionEnded)
	if errors.Is(err, sql.ErrNoRows) {
		return codeStatus{}, false, nil
	}
	return st, true, err
}

func (r txRotation) insertFamily(ctx context.Context, f *sso.RefreshToken) error {
	_, err := r.tx.StmtContext(ctx, r.s.st.insertFamily).ExecContext(ctx, f.FamilyID, f.Generation, f.Hash,
		b2i(f.Revoked), ts(f.ExpiresAt), ts(f.RotatedAt))
	return err
}

func (r txRotation) insertGrant(ctx context.Context, f *sso.RefreshToken, now time.Time) error {
	_, err := r.tx.StmtContext(ctx, r.s.st.insertGrant).ExecContext(ctx, f.FamilyID, f.ClientID, f.Subject,
		encList(f.Audience), encList(f.Scopes), f.SessionID, ts(f.AuthTime), encList(f.AMR), ts(orNow(f.CreatedAt, now)))
	return err
}

// familyState is what a refused rotation's family holds (familyStateQuery).
type familyState struct {
	gen, expiresAt, rotatedAt, revoked int64
	hash                               string
}

// refusedRotation says why the compare-and-set of rot changed nothing in a family in state st
// (sso.Rotation): nil for a retry of the same rotation within its grace period, the family
// revoked (revoke, kept: *reuseError) for the reuse of a rotated token, else ErrNotFound or
// ErrTokenRevoked.
func refusedRotation(rot *sso.Rotation, st *familyState, now int64, revoke func() error) error {
	switch {
	case st.expiresAt <= now:
		return fmt.Errorf("sqlite: issue tokens: rotate: %w", sso.ErrNotFound)
	case st.revoked != 0:
		return fmt.Errorf("sqlite: issue tokens: rotate: %w", sso.ErrTokenRevoked)
	case st.gen == rot.Generation+1 && st.hash == rot.NewHash && rot.Grace > 0 && now-st.rotatedAt <= int64(rot.Grace):
		return nil // a concurrent retry of the same rotation: the family is there already
	case st.gen > rot.Generation:
		// Reuse of a rotated token: kill the family, and make that stick.
		if err := revoke(); err != nil {
			return wrap("issue tokens: revoke reused family", err)
		}
		return &reuseError{familyID: rot.FamilyID}
	}
	return fmt.Errorf("sqlite: issue tokens: rotate: %w", sso.ErrNotFound)
}

// applyRaw is apply through the driver's statements (rawWriter), inside a transaction runTx
// began on rc (rawTxConn): a rotation, or a code grant (in a savepoint of its own in a batch).
func (w *issueWrite) applyRaw(ctx context.Context, rc *rawConn) error {
	w.own = applyIssue(ctx, rc, &w.in, w.s.clock())
	return w.own
}

// applyRawAlone is the refresh grant's write when no other grant waits (aloneWriter's
// applyAlone, on the driver connection): the rotation's compare-and-set is one UPDATE, atomic
// by itself, so it runs as its own (autocommit) transaction, without a BEGIN and a COMMIT
// statement around it. It reports whether the rotation is done; when the compare-and-set
// changes nothing, the caller runs it in a transaction of its own, which tries it again and
// finds out why (applyRaw). Splitting the two is safe because what that second look decides
// from only grows stale in one direction: a generation only increases and a revocation or an
// expiry is final, so a rotation refused now is refused for the same or a stronger reason then.
// A rotation keeps at most one statement (the compare-and-set, or the revocation of a reused
// family), and a statement is atomic: in a batch it needs no savepoint either (writeOp.single).
func (w *issueWrite) applyRawAlone(ctx context.Context, rc *rawConn) (done bool, err error) {
	rot := w.in.Rotate
	done, w.own = rotateFamily(ctx, rc, rot, ts(orNow(rot.Now, w.s.clock())), false)
	return done, w.own
}
