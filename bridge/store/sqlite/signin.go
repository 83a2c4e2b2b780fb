package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
// transaction (store.SignInStore).
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
	now := s.clock()
	completed := false
	var auditAt int64
	var auditID int64
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		completed, auditID = false, 0 // a run again (writeTx) starts afresh
		if in.Reauth != nil {
			if err := s.reauthTx(ctx, tx, in.Reauth); isNoRows(err) {
				return errReauthMissed
			} else if err != nil {
				return err
			}
		} else if _, err := tx.StmtContext(ctx, s.st.insertSession).ExecContext(ctx, ss.ID, ss.Subject, ts(ss.AuthTime), encList(ss.AMR),
			ts(orNow(ss.CreatedAt, now)), ts(orNow(ss.LastSeen, now)), ts(ss.ExpiresAt), b2i(ss.Ended)); err != nil {
			return err
		}
		if ev != nil {
			auditAt = ts(orNow(ev.Time, now))
			res, err := tx.StmtContext(ctx, s.st.insertAudit).ExecContext(ctx, auditAt, ev.Event, ev.Subject, ev.Login, ev.ClientID, ev.IP, ev.Detail)
			if err != nil {
				return err
			}
			if auditID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		c := in.Completion
		var res sql.Result
		var err error
		if in.CodeHash != "" {
			res, err = tx.StmtContext(ctx, s.st.completeWithCode).ExecContext(ctx, c.Subject, ts(c.AuthTime), encList(c.AMR),
				c.SessionID, in.CodeHash, ts(in.CodeExpires), in.RequestID, c.Browser, ts(now))
		} else {
			res, err = tx.StmtContext(ctx, s.st.completeAuthRequest).ExecContext(ctx, c.Subject, ts(c.AuthTime), encList(c.AMR),
				c.SessionID, in.RequestID, c.Browser, ts(now))
		}
		switch err := affectedOne(res, err); {
		case errors.Is(err, sql.ErrNoRows) && in.Reauth != nil:
			return errReauthUnanswered // a session signed in again for nothing: all or nothing
		case errors.Is(err, sql.ErrNoRows):
			return nil // the session and audit row are kept; the request stays as it is
		case err != nil:
			return err
		}
		completed = true
		_, err = tx.StmtContext(ctx, s.st.addSessionClient).ExecContext(ctx, ss.ID, in.RequestClient)
		return err
	})
	switch {
	case errors.Is(err, errReauthMissed):
		return fmt.Errorf("sqlite: complete sign-in: %w: %w", sso.ErrConflict, err)
	case errors.Is(err, errReauthUnanswered):
		return s.authRequestState(ctx, "complete sign-in", in.RequestID, in.Completion.Browser, false)
	case err != nil:
		return wrap("complete sign-in", err)
	}
	if ev != nil {
		ev.ID, ev.Time = auditID, tm(auditAt)
	}
	if !completed {
		return s.authRequestState(ctx, "complete sign-in", in.RequestID, in.Completion.Browser, false)
	}
	return nil
}
