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

// sessionCols is used with the alias s and a LEFT JOIN of session_clients c.
const sessionCols = `s.id, s.subject, s.auth_time, s.amr, s.created_at, s.last_seen, s.expires_at,
	s.ended, COALESCE(c.client_id, '')`

// scanSessions reads rows of sessionCols (one row per session client, ordered by session then
// sign-in order) into sessions, in the order they first appear, and closes rows.
func scanSessions(rows pgx.Rows) ([]*sso.Session, error) {
	defer rows.Close()
	var (
		out  []*sso.Session
		last *sso.Session
	)
	for rows.Next() {
		var (
			id, subject, amr, client         string
			authTime, created, seen, expires int64
			ended                            bool
		)
		if err := rows.Scan(&id, &subject, &authTime, &amr, &created, &seen, &expires, &ended, &client); err != nil {
			return nil, err
		}
		if last == nil || last.ID != id {
			l, err := decList(amr)
			if err != nil {
				return nil, err
			}
			last = &sso.Session{
				ID: id, Subject: subject, AuthTime: tm(authTime), AMR: l, CreatedAt: tm(created),
				LastSeen: tm(seen), ExpiresAt: tm(expires), Ended: ended,
			}
			out = append(out, last)
		}
		if client != "" {
			last.Clients = append(last.Clients, client)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

const addSessionClientSQL = `INSERT INTO session_clients (session_id, client_id) VALUES ($1, $2)
	ON CONFLICT (session_id, client_id) DO NOTHING`

// CreateSession stores a new session and its clients; ErrConflict when the id exists.
func (s *Store) CreateSession(ctx context.Context, ss *sso.Session) error {
	if ss == nil || ss.ID == "" {
		return errors.New("postgres: create session: empty id")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		now := s.clock()
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, subject, auth_time, amr, created_at,
			last_seen, expires_at, ended) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			ss.ID, ss.Subject, ts(ss.AuthTime), encList(ss.AMR), ts(orNow(ss.CreatedAt, now)),
			ts(orNow(ss.LastSeen, now)), ts(ss.ExpiresAt), ss.Ended); err != nil {
			return err
		}
		for _, c := range ss.Clients {
			if _, err := tx.Exec(ctx, addSessionClientSQL, ss.ID, c); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("create session", err)
}

// Session returns a live session; ErrNotFound when unknown, expired or ended.
func (s *Store) Session(ctx context.Context, id string) (*sso.Session, error) {
	return s.readSession(ctx, "session", `SELECT `+sessionCols+` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id
		WHERE s.id = $1 AND NOT s.ended AND s.expires_at > $2 ORDER BY c.seq`, id)
}

// SessionByCookie returns the live session the cookie value of key opens
// (store.SessionStore); ErrNotFound when none does.
func (s *Store) SessionByCookie(ctx context.Context, key string) (*sso.Session, error) {
	return s.readSession(ctx, "session by cookie", `SELECT `+sessionCols+` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id
		WHERE s.id = (SELECT id FROM sessions WHERE id = $1 AND cookie_key = ''
			UNION ALL SELECT id FROM sessions WHERE cookie_key = $1 AND cookie_key <> '' LIMIT 1)
		AND NOT s.ended AND s.expires_at > $2 ORDER BY c.seq`, key)
}

// readSession runs a one-session read (q: a key, now).
func (s *Store) readSession(ctx context.Context, op, q, key string) (*sso.Session, error) {
	rows, err := s.pool.Query(ctx, q, key, ts(s.clock()))
	if err != nil {
		return nil, wrap(op, err)
	}
	l, err := scanSessions(rows)
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("postgres: %s: %w", op, sso.ErrNotFound)
	}
	return l[0], nil
}

// reauthTx applies r in tx (store.SessionStore.ReauthenticateSession): pgx.ErrNoRows when the
// compare-and-set (the live session of the subject whose cookie key, or id when it has none,
// is the one the browser presented) changed nothing. The session's upstream record and SAML
// participants live as long as it.
func (s *Store) reauthTx(ctx context.Context, tx pgx.Tx, r *store.SessionReauth) error {
	if r.SessionID == "" || r.NewCookieKey == "" || r.CookieKey == "" {
		return errors.New("empty session id or cookie key")
	}
	now := ts(s.clock())
	if err := execOne(ctx, tx, `UPDATE sessions SET auth_time = $1, amr = $2, expires_at = GREATEST(expires_at, $3),
		last_seen = GREATEST(last_seen, $4), cookie_key = $5
		WHERE id = $6 AND subject = $7 AND (CASE WHEN cookie_key = '' THEN id ELSE cookie_key END) = $8
		AND NOT ended AND expires_at > $4`,
		ts(r.AuthTime), encList(r.AMR), ts(r.ExpiresAt), now, r.NewCookieKey, r.SessionID, r.Subject, r.CookieKey); err != nil {
		return err
	}
	for _, q := range []string{
		`UPDATE upstream_sessions SET expires_at = GREATEST(expires_at, $1) WHERE session_id = $2`,
		`UPDATE saml_participants SET expires_at = GREATEST(expires_at, $1) WHERE session_id = $2`,
	} {
		if _, err := tx.Exec(ctx, q, ts(r.ExpiresAt), r.SessionID); err != nil {
			return err
		}
	}
	return nil
}

// reauthFailed tells why r's compare-and-set changed nothing: ErrConflict when the session is
// live (another cookie value, another subject), else ErrNotFound.
func (s *Store) reauthFailed(ctx context.Context, op string, r *store.SessionReauth) error {
	if _, err := s.Session(ctx, r.SessionID); err == nil {
		return fmt.Errorf("postgres: %s: %w", op, sso.ErrConflict)
	} else if !errors.Is(err, sso.ErrNotFound) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, sso.ErrNotFound)
}

// ReauthenticateSession signs a live session in again (store.SessionStore).
func (s *Store) ReauthenticateSession(ctx context.Context, r *store.SessionReauth) error {
	err := s.tx(ctx, func(tx pgx.Tx) error { return s.reauthTx(ctx, tx, r) })
	if isNoRows(err) {
		return s.reauthFailed(ctx, "reauthenticate session", r)
	}
	return wrap("reauthenticate session", err)
}

// AddSessionClient records that the live session signed into clientID (idempotent: the first
// sign-in keeps its place) and moves LastSeen forward to at. ErrNotFound when the session is
// unknown, expired or ended.
func (s *Store) AddSessionClient(ctx context.Context, id, clientID string, at time.Time) error {
	if clientID == "" {
		return errors.New("postgres: add session client: empty client id")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := execOne(ctx, tx, `UPDATE sessions SET last_seen = GREATEST(last_seen, $1)
			WHERE id = $2 AND NOT ended AND expires_at > $3`, ts(at), id, ts(s.clock())); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, addSessionClientSQL, id, clientID)
		return err
	})
	return wrap("add session client", err)
}

// LeaveClient takes clientID out of every live session of subject (store.SessionStore).
func (s *Store) LeaveClient(ctx context.Context, subject, clientID string) (int, error) {
	tag, err := s.pool.Exec(ctx, leaveClientSQL, clientID, subject, ts(s.clock()))
	if err != nil {
		return 0, wrap("leave client", err)
	}
	return int(tag.RowsAffected()), nil
}

// leaveClientSQL takes client $1 out of every live session of subject $2 at $3 (LeaveClient,
// SignOutOfClient).
const leaveClientSQL = `DELETE FROM session_clients WHERE client_id = $1 AND session_id IN
		(SELECT id FROM sessions WHERE subject = $2 AND NOT ended AND expires_at > $3)`

// EndSession ends one session (idempotent).
// Its live console sessions end with it (endConsoleOfBridge), and so do its session-bound
// grants (revokeSessionBound).
func (s *Store) EndSession(ctx context.Context, id string) error {
	return wrap("end session", s.tx(ctx, func(tx pgx.Tx) error {
		_, err := endSessionTx(ctx, tx, ts(s.clock()), id)
		return err
	}))
}

// endSessionTx ends the session id in tx, and its live console sessions and session-bound
// grants when it was live; it reports whether it was (false: unknown or ended already). Its
// UPDATE holds the session's row until tx ends: AddSessionClient (an UPDATE of the row that
// re-checks NOT ended once it has it), AddSAMLParticipant and a code exchange's
// compare-and-set (both FOR SHARE) wait for it and then find the session ended.
func endSessionTx(ctx context.Context, tx pgx.Tx, now int64, id string) (bool, error) {
	var subject string
	err := tx.QueryRow(ctx, `UPDATE sessions SET ended = TRUE WHERE id = $1 AND NOT ended RETURNING subject`, id).Scan(&subject)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := revokeSessionBound(ctx, tx, subject, id); err != nil {
		return false, err
	}
	return true, endConsoleOfBridge(ctx, tx, now, id)
}

// endedSessionTx reads, in the transaction that ended it (endSessionTx), the session id with
// its clients and its SAML participants (store.EndedSession). At READ COMMITTED each
// statement sees what committed before it: after the end's UPDATE got the row, every
// AddSessionClient and AddSAMLParticipant that held it before (and so committed), and none
// after (they wait for the row, then find it ended).
func endedSessionTx(ctx context.Context, tx pgx.Tx, now int64, id string) (*store.EndedSession, error) {
	rows, err := tx.Query(ctx, `SELECT `+sessionCols+` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id
		WHERE s.id = $1 ORDER BY c.seq`, id)
	if err != nil {
		return nil, err
	}
	l, err := scanSessions(rows)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("the ended session %w", sso.ErrNotFound)
	}
	rows, err = tx.Query(ctx, `SELECT `+participantCols+` FROM saml_participants WHERE session_id = $1 AND expires_at > $2 ORDER BY seq`,
		id, now)
	if err != nil {
		return nil, err
	}
	ps, err := scanParticipants(rows)
	if err != nil {
		return nil, err
	}
	return &store.EndedSession{Session: l[0], SAMLParticipants: ps}, nil
}

// revokeSessionBound revokes, in tx, the session-bound grants of subject's sessions ids: the
// families signed in with one of them that hold no refresh token (granted without
// offline_access, OIDC Core 11), so that their access tokens end with the session. A family
// with a refresh token is an offline_access grant: it outlives the sign-out by design. The
// subject's grants are found by family_grants_subject, then filtered by session.
func revokeSessionBound(ctx context.Context, tx pgx.Tx, subject string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE families SET revoked = TRUE
		WHERE family_id IN (SELECT family_id FROM family_grants WHERE subject = $1 AND session_id = ANY($2))
		AND token_hash = '' AND NOT revoked`, subject, ids)
	return err
}

// Sessions lists live sessions, oldest first, filtered by subject when not empty.
func (s *Store) Sessions(ctx context.Context, subject string) ([]*sso.Session, error) {
	q := `SELECT ` + sessionCols + ` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id
		WHERE NOT s.ended AND s.expires_at > $1`
	args := []any{ts(s.clock())}
	if subject != "" {
		q += ` AND s.subject = $2`
		args = append(args, subject)
	}
	q += ` ORDER BY s.created_at, s.id COLLATE "C", c.seq`
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("sessions", err)
	}
	l, err := scanSessions(rows)
	return l, wrap("sessions", err)
}

// endSubjectSessions ends every live session of subject in tx and returns them (Ended set),
// oldest first, with their clients. The UPDATE is the compare-and-set: a session ended
// concurrently (by another replica) is not returned twice, as the row lock makes this statement
// re-check NOT ended against the committed row.
func endSubjectSessions(ctx context.Context, tx pgx.Tx, subject string, now int64) ([]*sso.Session, error) {
	rows, err := tx.Query(ctx, `UPDATE sessions SET ended = TRUE
		WHERE subject = $1 AND NOT ended AND expires_at > $2 RETURNING id`, subject, now)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	if err := revokeSessionBound(ctx, tx, subject, ids...); err != nil {
		return nil, err
	}
	if err := endConsoleOfBridge(ctx, tx, now, ids...); err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `SELECT `+sessionCols+` FROM sessions s
		LEFT JOIN session_clients c ON c.session_id = s.id
		WHERE s.id = ANY($1) ORDER BY s.created_at, s.id COLLATE "C", c.seq`, ids)
	if err != nil {
		return nil, err
	}
	return scanSessions(rows)
}

// EndSubjectSessions ends every live session of subject and returns them (Ended set), oldest
// first, with their clients, so that the caller can log the clients out.
func (s *Store) EndSubjectSessions(ctx context.Context, subject string) ([]*sso.Session, error) {
	if subject == "" {
		return nil, errors.New("postgres: end subject sessions: empty subject")
	}
	var out []*sso.Session
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = endSubjectSessions(ctx, tx, subject, ts(s.clock()))
		return err
	})
	if err != nil {
		return nil, wrap("end subject sessions", err)
	}
	return out, nil
}
