package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// ---- pending upstream sign-ins ----

// CreateUpstreamLogin stores a new pending upstream sign-in; ErrConflict when the id exists.
func (s *Store) CreateUpstreamLogin(ctx context.Context, l *store.UpstreamLogin) error {
	if l == nil || l.ID == "" || l.Provider == "" || l.State != store.UpstreamStarted {
		return errors.New("sqlite: create upstream login: id, provider and state started required")
	}
	_, err := s.wexec(ctx, `INSERT INTO upstream_logins (id, provider, state, auth_request_id, browser, link_subject,
		issuer, upstream_subject, email, upstream_sid, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, '', '', '', '', ?, ?)`,
		l.ID, l.Provider, l.State, l.AuthRequestID, l.Browser, l.LinkSubject, ts(orNow(l.CreatedAt, s.clock())), ts(l.ExpiresAt))
	return wrap("create upstream login", err)
}

const upstreamLoginCols = `id, provider, state, auth_request_id, browser, link_subject, issuer, upstream_subject, email,
	upstream_sid, created_at, expires_at`

func scanUpstreamLogin(row scanner) (*store.UpstreamLogin, error) {
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
	l, err := scanUpstreamLogin(s.r.QueryRowContext(ctx, `SELECT `+upstreamLoginCols+` FROM upstream_logins
		WHERE id = ? AND expires_at > ?`, id, ts(s.clock())))
	return l, wrap("upstream login", err)
}

// AdvanceUpstreamLogin moves a pending sign-in from one state to the next, once.
func (s *Store) AdvanceUpstreamLogin(ctx context.Context, id, from string, next *store.UpstreamLogin) error {
	if next == nil || next.State == "" {
		return errors.New("sqlite: advance upstream login: no next state")
	}
	return wrap("advance upstream login", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM upstream_logins WHERE id = ? AND expires_at > ?`,
			id, ts(s.clock())).Scan(&state); err != nil {
			return err // sql.ErrNoRows: ErrNotFound
		}
		if state != from {
			return fmt.Errorf("upstream login is %s, not %s: %w", state, from, sso.ErrConflict)
		}
		var err error
		if next.State == store.UpstreamReturned {
			_, err = tx.ExecContext(ctx, `UPDATE upstream_logins SET state = ?, issuer = ?, upstream_subject = ?, email = ?,
				upstream_sid = ? WHERE id = ? AND state = ?`, next.State, next.Issuer, next.UpstreamSubject, next.Email,
				next.UpstreamSID, id, from)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE upstream_logins SET state = ? WHERE id = ? AND state = ?`, next.State, id, from)
		}
		return err
	}))
}

// ---- links ----

// PutUpstreamLink stores a new link; ErrConflict when the upstream identity is linked already.
func (s *Store) PutUpstreamLink(ctx context.Context, l *store.UpstreamLink) error {
	if l == nil || l.Issuer == "" || l.UpstreamSubject == "" || l.Subject == "" {
		return errors.New("sqlite: put upstream link: issuer, upstream subject and subject required")
	}
	_, err := s.wexec(ctx, `INSERT INTO upstream_links (issuer, upstream_subject, subject, provider, email, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, l.Issuer, l.UpstreamSubject, l.Subject, l.Provider, l.Email, ts(orNow(l.CreatedAt, s.clock())))
	return wrap("put upstream link", err)
}

const upstreamLinkCols = `issuer, upstream_subject, subject, provider, email, created_at`

func scanUpstreamLink(row scanner) (*store.UpstreamLink, error) {
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
	l, err := scanUpstreamLink(s.r.QueryRowContext(ctx, `SELECT `+upstreamLinkCols+` FROM upstream_links
		WHERE issuer = ? AND upstream_subject = ?`, issuer, upstreamSubject))
	return l, wrap("upstream link", err)
}

// UpstreamLinks lists a member's links, oldest first.
func (s *Store) UpstreamLinks(ctx context.Context, subject string) ([]*store.UpstreamLink, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+upstreamLinkCols+` FROM upstream_links WHERE subject = ?
		ORDER BY created_at, issuer, upstream_subject`, subject)
	if err != nil {
		return nil, wrap("upstream links", err)
	}
	defer rows.Close()
	var out []*store.UpstreamLink
	for rows.Next() {
		l, err := scanUpstreamLink(rows)
		if err != nil {
			return nil, wrap("upstream links", err)
		}
		out = append(out, l)
	}
	return out, wrap("upstream links", rows.Err())
}

// DeleteUpstreamLink removes one of the member's links; ErrNotFound when there is no such link.
func (s *Store) DeleteUpstreamLink(ctx context.Context, subject, issuer, upstreamSubject string) error {
	res, err := s.wexec(ctx, `DELETE FROM upstream_links WHERE subject = ? AND issuer = ? AND upstream_subject = ?`,
		subject, issuer, upstreamSubject)
	return wrap("delete upstream link", affectedOne(res, err))
}

// ---- sessions started upstream ----

// PutUpstreamSession records the upstream sign-in behind a bridge session (replacing any).
func (s *Store) PutUpstreamSession(ctx context.Context, u *store.UpstreamSession) error {
	if u == nil || u.SessionID == "" || u.Issuer == "" || u.UpstreamSubject == "" {
		return errors.New("sqlite: put upstream session: session id, issuer and upstream subject required")
	}
	_, err := s.wexec(ctx, `INSERT INTO upstream_sessions (session_id, issuer, upstream_subject, upstream_sid, expires_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET issuer = excluded.issuer,
		upstream_subject = excluded.upstream_subject, upstream_sid = excluded.upstream_sid, expires_at = excluded.expires_at`,
		u.SessionID, u.Issuer, u.UpstreamSubject, u.UpstreamSID, ts(u.ExpiresAt))
	return wrap("put upstream session", err)
}

// MoveUpstreamSession re-records a held sign-in's upstream record under a session (the UPDATE
// is the compare-and-set), replacing the session's own (a session signed in again:
// store.SessionReauth).
func (s *Store) MoveUpstreamSession(ctx context.Context, from, to string, expires time.Time) error {
	res, err := s.wexec(ctx, `UPDATE OR REPLACE upstream_sessions SET session_id = ?, expires_at = ? WHERE session_id = ? AND expires_at > ?`,
		to, ts(expires), from, ts(s.clock()))
	return wrap("move upstream session", affectedOne(res, err))
}

// DeleteUpstreamSession forgets the upstream record of a session.
func (s *Store) DeleteUpstreamSession(ctx context.Context, sessionID string) error {
	res, err := s.wexec(ctx, `DELETE FROM upstream_sessions WHERE session_id = ?`, sessionID)
	return wrap("delete upstream session", affectedOne(res, err))
}

// UpstreamSession returns the upstream sign-in behind a bridge session; ErrNotFound when none.
func (s *Store) UpstreamSession(ctx context.Context, sessionID string) (*store.UpstreamSession, error) {
	var (
		u   store.UpstreamSession
		exp int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT session_id, issuer, upstream_subject, upstream_sid, expires_at FROM upstream_sessions
		WHERE session_id = ? AND expires_at > ?`, sessionID, ts(s.clock())).Scan(&u.SessionID, &u.Issuer, &u.UpstreamSubject, &u.UpstreamSID, &exp)
	if err != nil {
		return nil, wrap("upstream session", err)
	}
	u.ExpiresAt = tm(exp)
	return &u, nil
}

// UpstreamSessions lists the bridge sessions an upstream identity or upstream session started.
func (s *Store) UpstreamSessions(ctx context.Context, issuer, upstreamSubject, sid string) ([]string, error) {
	if upstreamSubject == "" && sid == "" {
		return nil, errors.New("sqlite: upstream sessions: upstream subject or sid required")
	}
	q := `SELECT session_id FROM upstream_sessions WHERE issuer = ?1 AND expires_at > ?4`
	if upstreamSubject != "" {
		q += ` AND upstream_subject = ?2`
	}
	if sid != "" {
		q += ` AND upstream_sid = ?3`
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY session_id`, issuer, upstreamSubject, sid, ts(s.clock()))
	if err != nil {
		return nil, wrap("upstream sessions", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("upstream sessions", err)
		}
		out = append(out, id)
	}
	return out, wrap("upstream sessions", rows.Err())
}
