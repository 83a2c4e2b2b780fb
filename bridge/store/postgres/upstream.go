package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// ---- pending upstream sign-ins ----

// CreateUpstreamLogin stores a new pending upstream sign-in; ErrConflict when the id exists.
func (s *Store) CreateUpstreamLogin(ctx context.Context, l *store.UpstreamLogin) error {
	if l == nil || l.ID == "" || l.Provider == "" || l.State != store.UpstreamStarted {
		return errors.New("postgres: create upstream login: id, provider and state started required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO upstream_logins (id, provider, state, auth_request_id, browser, link_subject,
		issuer, upstream_subject, email, upstream_sid, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, '', '', '', '', $7, $8)`,
		l.ID, l.Provider, l.State, l.AuthRequestID, l.Browser, l.LinkSubject, ts(orNow(l.CreatedAt, s.clock())), ts(l.ExpiresAt))
	return wrap("create upstream login", err)
}

const upstreamLoginCols = `id, provider, state, auth_request_id, browser, link_subject, issuer, upstream_subject, email,
	upstream_sid, created_at, expires_at`

func scanUpstreamLogin(row pgx.Row) (*store.UpstreamLogin, error) {
	var (
		l                store.UpstreamLogin
		created, expires int64
	)
	if err := row.Scan(&l.ID, &l.Provider, &l.State, &l.AuthRequestID, &l.Browser, &l.LinkSubject, &l.Issuer,
		&l.UpstreamSubject, &l.Email, &l.UpstreamSID, &created, &expires); err != nil {
		return nil, err
	}
	l.CreatedAt, l.ExpiresAt = tm(created), tm(expires)
	return &l, nil
}

// UpstreamLogin returns a pending upstream sign-in; ErrNotFound when unknown or expired.
func (s *Store) UpstreamLogin(ctx context.Context, id string) (*store.UpstreamLogin, error) {
	l, err := scanUpstreamLogin(s.pool.QueryRow(ctx, `SELECT `+upstreamLoginCols+` FROM upstream_logins
		WHERE id = $1 AND expires_at > $2`, id, ts(s.clock())))
	if err != nil {
		return nil, wrap("upstream login", err)
	}
	return l, nil
}

// AdvanceUpstreamLogin moves a pending sign-in from one state to the next, once: the UPDATE is
// the compare-and-set (of two callbacks racing on two replicas, one moves it); when it changes
// nothing, the row says why.
func (s *Store) AdvanceUpstreamLogin(ctx context.Context, id, from string, next *store.UpstreamLogin) error {
	if next == nil || next.State == "" {
		return errors.New("postgres: advance upstream login: no next state")
	}
	now := ts(s.clock())
	var err error
	if next.State == store.UpstreamReturned {
		err = execOne(ctx, s.pool, `UPDATE upstream_logins SET state = $1, issuer = $2, upstream_subject = $3, email = $4,
			upstream_sid = $5 WHERE id = $6 AND state = $7 AND expires_at > $8`, next.State, next.Issuer, next.UpstreamSubject,
			next.Email, next.UpstreamSID, id, from, now)
	} else {
		err = execOne(ctx, s.pool, `UPDATE upstream_logins SET state = $1 WHERE id = $2 AND state = $3 AND expires_at > $4`,
			next.State, id, from, now)
	}
	if !isNoRows(err) {
		return wrap("advance upstream login", err)
	}
	var state string
	if err := s.pool.QueryRow(ctx, `SELECT state FROM upstream_logins WHERE id = $1 AND expires_at > $2`, id, now).Scan(&state); err != nil {
		return wrap("advance upstream login", err)
	}
	return fmt.Errorf("postgres: advance upstream login: upstream login is %s, not %s: %w", state, from, sso.ErrConflict)
}

// ---- links ----

// PutUpstreamLink stores a new link; ErrConflict when the upstream identity is linked already.
func (s *Store) PutUpstreamLink(ctx context.Context, l *store.UpstreamLink) error {
	if l == nil || l.Issuer == "" || l.UpstreamSubject == "" || l.Subject == "" {
		return errors.New("postgres: put upstream link: issuer, upstream subject and subject required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO upstream_links (issuer, upstream_subject, subject, provider, email, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, l.Issuer, l.UpstreamSubject, l.Subject, l.Provider, l.Email, ts(orNow(l.CreatedAt, s.clock())))
	return wrap("put upstream link", err)
}

const upstreamLinkCols = `issuer, upstream_subject, subject, provider, email, created_at`

func scanUpstreamLink(row pgx.Row) (*store.UpstreamLink, error) {
	var (
		l       store.UpstreamLink
		created int64
	)
	if err := row.Scan(&l.Issuer, &l.UpstreamSubject, &l.Subject, &l.Provider, &l.Email, &created); err != nil {
		return nil, err
	}
	l.CreatedAt = tm(created)
	return &l, nil
}

// UpstreamLink returns the link of an upstream identity; ErrNotFound when none.
func (s *Store) UpstreamLink(ctx context.Context, issuer, upstreamSubject string) (*store.UpstreamLink, error) {
	l, err := scanUpstreamLink(s.pool.QueryRow(ctx, `SELECT `+upstreamLinkCols+` FROM upstream_links
		WHERE issuer = $1 AND upstream_subject = $2`, issuer, upstreamSubject))
	if err != nil {
		return nil, wrap("upstream link", err)
	}
	return l, nil
}

// UpstreamLinks lists a member's links, oldest first.
func (s *Store) UpstreamLinks(ctx context.Context, subject string) ([]*store.UpstreamLink, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+upstreamLinkCols+` FROM upstream_links WHERE subject = $1
		ORDER BY created_at, issuer COLLATE "C", upstream_subject COLLATE "C"`, subject)
	if err != nil {
		return nil, wrap("upstream links", err)
	}
	out, err := collect(rows, scanUpstreamLink)
	return out, wrap("upstream links", err)
}

// DeleteUpstreamLink removes one of the member's links; ErrNotFound when there is no such link.
func (s *Store) DeleteUpstreamLink(ctx context.Context, subject, issuer, upstreamSubject string) error {
	err := execOne(ctx, s.pool, `DELETE FROM upstream_links WHERE subject = $1 AND issuer = $2 AND upstream_subject = $3`,
		subject, issuer, upstreamSubject)
	return wrap("delete upstream link", err)
}

// ---- sessions started upstream ----

// PutUpstreamSession records the upstream sign-in behind a bridge session (replacing any).
func (s *Store) PutUpstreamSession(ctx context.Context, u *store.UpstreamSession) error {
	if u == nil || u.SessionID == "" || u.Issuer == "" || u.UpstreamSubject == "" {
		return errors.New("postgres: put upstream session: session id, issuer and upstream subject required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO upstream_sessions (session_id, issuer, upstream_subject, upstream_sid, expires_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id) DO UPDATE SET issuer = excluded.issuer,
		upstream_subject = excluded.upstream_subject, upstream_sid = excluded.upstream_sid, expires_at = excluded.expires_at`,
		u.SessionID, u.Issuer, u.UpstreamSubject, u.UpstreamSID, ts(u.ExpiresAt))
	return wrap("put upstream session", err)
}

// MoveUpstreamSession re-records a held sign-in's upstream record under a session (the UPDATE
// is the compare-and-set), replacing the session's own (a session signed in again:
// store.SessionReauth); a move that finds nothing to move deletes nothing.
func (s *Store) MoveUpstreamSession(ctx context.Context, from, to string, expires time.Time) error {
	return wrap("move upstream session", s.tx(ctx, func(tx pgx.Tx) error {
		if from != to {
			if _, err := tx.Exec(ctx, `DELETE FROM upstream_sessions WHERE session_id = $1`, to); err != nil {
				return err
			}
		}
		return execOne(ctx, tx, `UPDATE upstream_sessions SET session_id = $1, expires_at = $2
			WHERE session_id = $3 AND expires_at > $4`, to, ts(expires), from, ts(s.clock()))
	}))
}

// DeleteUpstreamSession forgets the upstream record of a session.
func (s *Store) DeleteUpstreamSession(ctx context.Context, sessionID string) error {
	return wrap("delete upstream session", execOne(ctx, s.pool, `DELETE FROM upstream_sessions WHERE session_id = $1`, sessionID))
}

// UpstreamSession returns the upstream sign-in behind a bridge session; ErrNotFound when none.
func (s *Store) UpstreamSession(ctx context.Context, sessionID string) (*store.UpstreamSession, error) {
	var (
		u   store.UpstreamSession
		exp int64
	)
	err := s.pool.QueryRow(ctx, `SELECT session_id, issuer, upstream_subject, upstream_sid, expires_at FROM upstream_sessions
		WHERE session_id = $1 AND expires_at > $2`, sessionID, ts(s.clock())).Scan(&u.SessionID, &u.Issuer, &u.UpstreamSubject, &u.UpstreamSID, &exp)
	if err != nil {
		return nil, wrap("upstream session", err)
	}
	u.ExpiresAt = tm(exp)
	return &u, nil
}

// UpstreamSessions lists the bridge sessions an upstream identity or upstream session started.
func (s *Store) UpstreamSessions(ctx context.Context, issuer, upstreamSubject, sid string) ([]string, error) {
	if upstreamSubject == "" && sid == "" {
		return nil, errors.New("postgres: upstream sessions: upstream subject or sid required")
	}
	q, args := `SELECT session_id FROM upstream_sessions WHERE issuer = $1 AND expires_at > $2`, []any{issuer, ts(s.clock())}
	if upstreamSubject != "" {
		args = append(args, upstreamSubject)
		q += fmt.Sprintf(` AND upstream_subject = $%d`, len(args))
	}
	if sid != "" {
		args = append(args, sid)
		q += fmt.Sprintf(` AND upstream_sid = $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY session_id COLLATE "C"`, args...)
	if err != nil {
		return nil, wrap("upstream sessions", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, wrap("upstream sessions", err)
}
