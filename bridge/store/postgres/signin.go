package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// CompleteSignIn writes a sign-in's session, audit row and request completion in one
// transaction (store.SignInStore).
func (s *Store) CompleteSignIn(ctx context.Context, in *store.SignIn) error {
	ss, ev := in.Session, in.Audit
	switch {
	case ss == nil || ss.ID == "":
		return errors.New("postgres: complete sign-in: empty session id")
	case ev != nil && ev.Event == "":
		return errors.New("postgres: complete sign-in: empty audit event")
	case in.RequestClient == "":
		return errors.New("postgres: complete sign-in: empty client id")
	}
	now := s.clock()
	var (
		completed bool
		auditID   int64
		auditAt   int64
	)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		completed = false
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, subject, auth_time, amr, created_at,
			last_seen, expires_at, ended) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			ss.ID, ss.Subject, ts(ss.AuthTime), encList(ss.AMR), ts(orNow(ss.CreatedAt, now)),
			ts(orNow(ss.LastSeen, now)), ts(ss.ExpiresAt), ss.Ended); err != nil {
			return err
		}
		if ev != nil {
			auditAt = ts(orNow(ev.Time, now))
			if err := tx.QueryRow(ctx, `INSERT INTO audit_log (time, event, subject, login, client_id, ip, detail)
				VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, auditAt, ev.Event, ev.Subject, ev.Login, ev.ClientID, ev.IP, ev.Detail).Scan(&auditID); err != nil {
				return err
			}
		}
		c := in.Completion
		var err error
		if in.CodeHash != "" {
			err = execOne(ctx, tx, `UPDATE auth_requests SET done = TRUE, subject = $1, auth_time = $2, amr = $3, session_id = $4,
				code_hash = $5, code_expires = $6, code_consumed = FALSE
				WHERE id = $7 AND NOT done AND browser = $8 AND expires_at > $9`,
				c.Subject, ts(c.AuthTime), encList(c.AMR), c.SessionID, in.CodeHash, ts(in.CodeExpires), in.RequestID, c.Browser, ts(now))
		} else {
			err = execOne(ctx, tx, `UPDATE auth_requests SET done = TRUE, subject = $1, auth_time = $2, amr = $3, session_id = $4
				WHERE id = $5 AND NOT done AND browser = $6 AND expires_at > $7`,
				c.Subject, ts(c.AuthTime), encList(c.AMR), c.SessionID, in.RequestID, c.Browser, ts(now))
		}
		switch {
		case isNoRows(err):
			return nil // the session and audit row are kept; the request stays as it is
		case err != nil:
			return err
		}
		completed = true
		_, err = tx.Exec(ctx, addSessionClientSQL, ss.ID, in.RequestClient)
		return err
	})
	if err != nil {
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
