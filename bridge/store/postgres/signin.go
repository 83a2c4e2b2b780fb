package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// completeSignInSQL[audit][code] is CompleteSignIn's one statement: data-modifying CTEs that
// insert the session and the audit row and complete the request (compare-and-set), and add the
// request's client to the session only when the completion changed the row. A statement is
// atomic on its own (autocommit): any error (a session id or code hash in use) writes nothing,
// as the transaction of separate statements did, in one round trip instead of six (BEGIN, four
// statements, COMMIT). At READ COMMITTED the UPDATE in the CTE waits for a concurrent
// completion of the same request and re-checks its WHERE clause against the committed row, as
// a plain UPDATE does, so of racing sign-ins exactly one completes the request.
//
// Parameters: $1-$8 the session, $9-$15 the completion (subject, auth_time, amr, session_id,
// request id, browser, now), $16 the request's client, then the code ($17 hash, $18 expiry)
// when there is one, then the audit row's seven columns when there is one.
var completeSignInSQL = func() (q [2][2]string) {
	for audit := range 2 {
		for code := range 2 {
			var b strings.Builder
			b.WriteString(`WITH s AS (INSERT INTO sessions (id, subject, auth_time, amr, created_at, last_seen, expires_at, ended)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)),
r AS (UPDATE auth_requests SET done = TRUE, subject = $9, auth_time = $10, amr = $11, session_id = $12`)
			next := 17
			if code == 1 {
				b.WriteString(`, code_hash = $17, code_expires = $18, code_consumed = FALSE`)
				next = 19
			}
			b.WriteString(`
	WHERE id = $13 AND NOT done AND browser = $14 AND expires_at > $15 RETURNING 1),
c AS (INSERT INTO session_clients (session_id, client_id) SELECT $1::text, $16::text FROM r
	ON CONFLICT (session_id, client_id) DO NOTHING)`)
			if audit == 1 {
				fmt.Fprintf(&b, `,
a AS (INSERT INTO audit_log (time, event, subject, login, client_id, ip, detail) VALUES (%s) RETURNING id)
SELECT (SELECT id FROM a), EXISTS (SELECT FROM r)`, placeholders(next, 7))
			} else {
				b.WriteString(`
SELECT 0::bigint, EXISTS (SELECT FROM r)`)
			}
			q[audit][code] = b.String()
		}
	}
	return q
}()

// CompleteSignIn writes a sign-in's session, audit row and request completion in one
// statement (store.SignInStore).
func (s *Store) CompleteSignIn(ctx context.Context, in *store.SignIn) error {
	ss, ev := in.Session, in.Audit
	switch {
	case ss == nil || ss.ID == "":
		return errors.New("postgres: complete sign-in: empty session id")
	case ev != nil && ev.Event == "":
		return errors.New("postgres: complete sign-in: empty audit event")
	case in.RequestClient == "":
		return errors.New("postgres: complete sign-in: empty client id")
	case in.Reauth != nil && (in.Reauth.SessionID != ss.ID || in.Reauth.Subject != ss.Subject):
		return errors.New("postgres: complete sign-in: the re-authentication names another session or member than the sign-in")
	}
	if in.Reauth != nil {
		return s.completeReauth(ctx, in)
	}
	now := s.clock()
	c := in.Completion
	args := make([]any, 0, 25)
	args = append(args, ss.ID, ss.Subject, ts(ss.AuthTime), encList(ss.AMR), ts(orNow(ss.CreatedAt, now)),
		ts(orNow(ss.LastSeen, now)), ts(ss.ExpiresAt), ss.Ended,
		c.Subject, ts(c.AuthTime), encList(c.AMR), c.SessionID, in.RequestID, c.Browser, ts(now), in.RequestClient)
	audit, code := 0, 0
	if in.CodeHash != "" {
		code = 1
		args = append(args, in.CodeHash, ts(in.CodeExpires))
	}
	var auditAt int64
	if ev != nil {
		audit = 1
		auditAt = ts(orNow(ev.Time, now))
		args = append(args, auditAt, ev.Event, ev.Subject, ev.Login, ev.ClientID, ev.IP, ev.Detail)
	}
	var (
		auditID   int64
		completed bool
	)
	if err := s.pool.QueryRow(ctx, completeSignInSQL[audit][code], args...).Scan(&auditID, &completed); err != nil {
		return wrap("complete sign-in", err)
	}
	if ev != nil {
		ev.ID, ev.Time = auditID, tm(auditAt)
	}
	if !completed {
		// The session and audit row are kept; the request stays as it is.
		return s.authRequestState(ctx, "complete sign-in", in.RequestID, c.Browser, false)
	}
	return nil
}

// errReauthMissed and errReauthUnanswered roll back a re-authenticating sign-in
// (store.SignIn.Reauth) whose compare-and-set, or whose request's, changed nothing.
var (
	errReauthMissed     = errors.New("re-authentication: the session is not the browser's any more")
	errReauthUnanswered = errors.New("re-authentication: the request is not pending")
)

// completeReauth is CompleteSignIn of a session signed in again (in.Reauth): the
// compare-and-set on the session, the completion, the session's client and the audit row, in
// one transaction, all or nothing. Rare (an app asked for a fresh sign-in of a member signed
// in already), so separate statements.
func (s *Store) completeReauth(ctx context.Context, in *store.SignIn) error {
	now := s.clock()
	c, ev := in.Completion, in.Audit
	var auditAt, auditID int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := s.reauthTx(ctx, tx, in.Reauth); isNoRows(err) {
			return errReauthMissed
		} else if err != nil {
			return err
		}
		if err := completeAuthRequest(ctx, tx, in.RequestID, c, ts(now), in.CodeHash, in.CodeExpires); isNoRows(err) {
			return errReauthUnanswered
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, addSessionClientSQL, in.Session.ID, in.RequestClient); err != nil {
			return err
		}
		if ev == nil {
			return nil
		}
		auditAt = ts(orNow(ev.Time, now))
		var err error
		auditID, err = insertAudit(ctx, tx, ev, auditAt)
		return err
	})
	switch {
	case errors.Is(err, errReauthMissed):
		return fmt.Errorf("postgres: complete sign-in: %w: %w", sso.ErrConflict, err)
	case errors.Is(err, errReauthUnanswered):
		return s.authRequestState(ctx, "complete sign-in", in.RequestID, c.Browser, false)
	case err != nil:
		return wrap("complete sign-in", err)
	}
	if ev != nil {
		ev.ID, ev.Time = auditID, tm(auditAt)
	}
	return nil
}
