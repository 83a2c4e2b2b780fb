package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// errReauthMissed and errReauthUnanswered roll back a re-authenticating sign-in
// (store.SignIn.Reauth) whose compare-and-set, or whose request's, changed nothing.
var (
	errReauthMissed     = errors.New("re-authentication: the session is not the browser's any more")
	errReauthUnanswered = errors.New("re-authentication: the request is not pending")
)

// CompleteSignIn writes a sign-in's session, audit row and request completion in one
// transaction (store.SignInStore). A new session's sign-in runs on the write connection's
// driver statements (rawSignInWrite) when every write of its batch can run there (rawTxWriter:
// rotations, sign-ins, code grants, new requests), as a refresh rotation does, else in
// database/sql's transaction: the same statements, savepoint and outcomes either way. A
// re-authentication always runs in database/sql's transaction.
func (s *Store) CompleteSignIn(ctx context.Context, in *store.SignIn) error {
	ss, ev := in.Session, in.Audit
	switch {
	case ss == nil || ss.ID == "":
		return errors.New("sqlite: complete sign-in: empty session id")
	case ev != nil && ev.Event == "":
		return errors.New("sqlite: complete sign-in: empty audit event")
	case in.RequestClient == "":
		return errors.New("sqlite: complete sign-in: empty client id")
	case in.Reauth != nil && (in.Reauth.SessionID != ss.ID || in.Reauth.Subject != ss.Subject):
		return errors.New("sqlite: complete sign-in: the re-authentication names another session or member than the sign-in")
	}
	w := &signInWrite{s: s, in: in, now: s.clock()}
	var wr writer = w
	if in.Reauth == nil {
		wr = rawSignInWrite{w}
	}
	w.writeOp = writeOp{ctx: ctx, w: wr}
	err := s.submit(&w.writeOp)
	switch {
	case errors.Is(err, errReauthMissed):
		return fmt.Errorf("sqlite: complete sign-in: %w: %w", sso.ErrConflict, err)
	case errors.Is(err, errReauthUnanswered):
		return s.authRequestState(ctx, "complete sign-in", in.RequestID, in.Completion.Browser, false)
	case err != nil:
		return wrap("complete sign-in", err)
	}
	if ev != nil {
		ev.ID, ev.Time = w.auditID, tm(w.auditAt)
	}
	if !w.completed {
		return s.authRequestState(ctx, "complete sign-in", in.RequestID, in.Completion.Browser, false)
	}
	return nil
}

// signInWrite is CompleteSignIn's write in the group commit.
type signInWrite struct {
	writeOp
	s   *Store
	in  *store.SignIn
	now time.Time
	// What the last run set (a batch that cannot commit runs its writes again: runWrites).
	completed        bool
	auditAt, auditID int64
}

func (w *signInWrite) apply(ctx context.Context, tx *sql.Tx) error {
	return w.run(ctx, sqlSignInStmts{s: w.s, tx: tx})
}

// rawSignInWrite is a signInWrite that can also run on the write connection's driver
// statements (rawTxWriter): a new session's, not a re-authentication (which stays on
// database/sql's transaction).
type rawSignInWrite struct{ *signInWrite }

func (w rawSignInWrite) applyRaw(ctx context.Context, rc *rawConn) error {
	return w.run(ctx, rawSignInStmts{rc})
}

// run writes the sign-in with x's statements: the session (or the re-authentication's
// compare-and-set), the audit row, the request's completion (compare-and-set) and, when that
// completed it, the session's client. A request that is not pending keeps the session and
// audit row (completed stays false) unless the sign-in is a re-authentication.
func (w *signInWrite) run(ctx context.Context, x signInStmts) error {
	w.completed, w.auditAt, w.auditID = false, 0, 0 // a run again starts afresh
	in, ss, ev := w.in, w.in.Session, w.in.Audit
	if in.Reauth != nil {
		if err := x.reauth(ctx, in.Reauth); isNoRows(err) {
			return errReauthMissed
		} else if err != nil {
			return err
		}
	} else if err := x.insertSession(ctx, ss, w.now); err != nil {
		return err
	}
	if ev != nil {
		w.auditAt = ts(orNow(ev.Time, w.now))
		id, err := x.insertAudit(ctx, w.auditAt, ev)
		if err != nil {
			return err
		}
		w.auditID = id
	}
	n, err := x.complete(ctx, in, ts(w.now))
	switch {
	case err != nil:
		return err
	case n == 0 && in.Reauth != nil:
		return errReauthUnanswered // a session signed in again for nothing: all or nothing
	case n == 0:
		return nil // the session and audit row are kept; the request stays as it is
	}
	w.completed = true
	return x.addSessionClient(ctx, ss.ID, in.RequestClient)
}

// signInStmts are a sign-in's statements, in a database/sql transaction (sqlSignInStmts) or on
// the write connection's driver connection (rawSignInStmts).
type signInStmts interface {
	insertSession(ctx context.Context, ss *sso.Session, now time.Time) error
	reauth(ctx context.Context, r *store.SessionReauth) error
	insertAudit(ctx context.Context, at int64, ev *store.AuditEvent) (id int64, err error)
	// complete runs the completion's compare-and-set (with the code when in.CodeHash is set)
	// and returns how many rows it changed.
	complete(ctx context.Context, in *store.SignIn, now int64) (int64, error)
	addSessionClient(ctx context.Context, sessionID, clientID string) error
}

// sqlSignInStmts is signInStmts in a database/sql transaction, with the write pool's prepared
// statements.
type sqlSignInStmts struct {
	s  *Store
	tx *sql.Tx
}

func (x sqlSignInStmts) insertSession(ctx context.Context, ss *sso.Session, now time.Time) error {
	_, err := x.tx.StmtContext(ctx, x.s.st.insertSession).ExecContext(ctx, ss.ID, ss.Subject, ts(ss.AuthTime), encList(ss.AMR),
		ts(orNow(ss.CreatedAt, now)), ts(orNow(ss.LastSeen, now)), ts(ss.ExpiresAt), b2i(ss.Ended))
	return err
}

func (x sqlSignInStmts) reauth(ctx context.Context, r *store.SessionReauth) error {
	return x.s.reauthTx(ctx, x.tx, r)
}

func (x sqlSignInStmts) insertAudit(ctx context.Context, at int64, ev *store.AuditEvent) (int64, error) {
	res, err := x.tx.StmtContext(ctx, x.s.st.insertAudit).ExecContext(ctx, at, ev.Event, ev.Subject, ev.Login, ev.ClientID, ev.IP, ev.Detail)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (x sqlSignInStmts) complete(ctx context.Context, in *store.SignIn, now int64) (int64, error) {
	c := &in.Completion
	var res sql.Result
	var err error
	if in.CodeHash != "" {
		res, err = x.tx.StmtContext(ctx, x.s.st.completeWithCode).ExecContext(ctx, c.Subject, ts(c.AuthTime), encList(c.AMR),
			c.SessionID, in.CodeHash, ts(in.CodeExpires), in.RequestID, c.Browser, now)
	} else {
		res, err = x.tx.StmtContext(ctx, x.s.st.completeAuthRequest).ExecContext(ctx, c.Subject, ts(c.AuthTime), encList(c.AMR),
			c.SessionID, in.RequestID, c.Browser, now)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (x sqlSignInStmts) addSessionClient(ctx context.Context, sessionID, clientID string) error {
	_, err := x.tx.StmtContext(ctx, x.s.st.addSessionClient).ExecContext(ctx, sessionID, clientID)
	return err
}

// rawSignInStmts is signInStmts on the write connection's driver connection, with the
// statements prepared there (rawConn); the arguments are the same, as driver values.
type rawSignInStmts struct{ rc *rawConn }

func (x rawSignInStmts) insertSession(ctx context.Context, ss *sso.Session, now time.Time) error {
	rc := x.rc
	_, err := rc.execArgs(ctx, rc.insertSessionStmt, ss.ID, ss.Subject, ts(ss.AuthTime), encList(ss.AMR),
		ts(orNow(ss.CreatedAt, now)), ts(orNow(ss.LastSeen, now)), ts(ss.ExpiresAt), int64(b2i(ss.Ended)))
	return err
}

func (x rawSignInStmts) reauth(context.Context, *store.SessionReauth) error {
	return errors.New("sqlite: a re-authentication runs in database/sql's transaction") // CompleteSignIn never sends one here
}

func (x rawSignInStmts) insertAudit(ctx context.Context, at int64, ev *store.AuditEvent) (int64, error) {
	rc := x.rc
	res, err := rc.execArgs(ctx, rc.insertAuditStmt, at, ev.Event, ev.Subject, ev.Login, ev.ClientID, ev.IP, ev.Detail)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (x rawSignInStmts) complete(ctx context.Context, in *store.SignIn, now int64) (int64, error) {
	rc, c := x.rc, &in.Completion
	var res driver.Result
	var err error
	if in.CodeHash != "" {
		res, err = rc.execArgs(ctx, rc.completeWithCodeStmt, c.Subject, ts(c.AuthTime), encList(c.AMR),
			c.SessionID, in.CodeHash, ts(in.CodeExpires), in.RequestID, c.Browser, now)
	} else {
		res, err = rc.execArgs(ctx, rc.completeAuthRequestStmt, c.Subject, ts(c.AuthTime), encList(c.AMR),
			c.SessionID, in.RequestID, c.Browser, now)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (x rawSignInStmts) addSessionClient(ctx context.Context, sessionID, clientID string) error {
	_, err := x.rc.execArgs(ctx, x.rc.addSessionClientStmt, sessionID, clientID)
	return err
}
