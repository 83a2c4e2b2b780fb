package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// scanSessions reads rows of sessionCols (one row per session client, ordered by session then
// sign-in order) into sessions, in the order they first appear.
func scanSessions(rows *sql.Rows) ([]*sso.Session, error) {
	defer rows.Close()
	var (
		out  []*sso.Session
		last *sso.Session
	)
	for rows.Next() {
		var (
			id, subject, amr, client                string
			authTime, created, seen, expires, ended int64
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
				LastSeen: tm(seen), ExpiresAt: tm(expires), Ended: ended != 0,
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

// CreateSession stores a new session and its clients; ErrConflict when the id exists.
func (s *Store) CreateSession(ctx context.Context, ss *sso.Session) error {
	if ss == nil || ss.ID == "" {
		return errors.New("sqlite: create session: empty id")
	}
	now := s.clock()
	args := []any{ss.ID, ss.Subject, ts(ss.AuthTime), encList(ss.AMR), ts(orNow(ss.CreatedAt, now)),
		ts(orNow(ss.LastSeen, now)), ts(ss.ExpiresAt), b2i(ss.Ended)}
	if len(ss.Clients) == 0 { // a new sign-in's session: one statement, no transaction around it
		_, err := s.wexecStmt(ctx, s.st.insertSession, args...)
		return wrap("create session", err)
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.StmtContext(ctx, s.st.insertSession).ExecContext(ctx, args...); err != nil {
			return err
		}
		for _, c := range ss.Clients {
			if _, err := tx.StmtContext(ctx, s.st.addSessionClient).ExecContext(ctx, ss.ID, c); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("create session", err)
}

// Session returns a live session; ErrNotFound when unknown, expired or ended.
func (s *Store) Session(ctx context.Context, id string) (*sso.Session, error) {
	return s.readSession(ctx, s.st.session, "session", id)
}

// SessionByCookie returns the live session the cookie value of key opens
// (store.SessionStore); ErrNotFound when none does.
func (s *Store) SessionByCookie(ctx context.Context, key string) (*sso.Session, error) {
	return s.readSession(ctx, s.st.sessionByCookie, "session by cookie", key)
}

// readSession runs a one-session read (stmt: a key, now).
func (s *Store) readSession(ctx context.Context, stmt *sql.Stmt, op, key string) (*sso.Session, error) {
	if err := s.rgate.acquire(ctx); err != nil {
		return nil, wrap(op, err)
	}
	rows, err := stmt.QueryContext(ctx, key, ts(s.clock()))
	if err != nil {
		s.rgate.release()
		return nil, wrap(op, err)
	}
	l, err := scanSessions(rows)
	s.rgate.release()
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("sqlite: %s: %w", op, sso.ErrNotFound)
	}
	return l[0], nil
}

// reauthSQL is ReauthenticateSession's compare-and-set: the live session of the subject whose
// cookie key (cookie_key, or its id when empty) is the one the browser presented.
const reauthSQL = `UPDATE sessions SET auth_time = ?, amr = ?, expires_at = MAX(expires_at, ?),
	last_seen = MAX(last_seen, ?), cookie_key = ?
	WHERE id = ? AND subject = ? AND (CASE WHEN cookie_key = '' THEN id ELSE cookie_key END) = ?
	AND ended = 0 AND expires_at > ?`

// reauthTx applies r in tx (store.SessionStore.ReauthenticateSession): sql.ErrNoRows when the
// compare-and-set changed nothing. The session's upstream record and SAML participants live as
// long as it.
func (s *Store) reauthTx(ctx context.Context, tx *sql.Tx, r *store.SessionReauth) error {
	if r.SessionID == "" || r.NewCookieKey == "" || r.CookieKey == "" {
		return errors.New("empty session id or cookie key")
	}
	now := s.clock()
	res, err := tx.ExecContext(ctx, reauthSQL, ts(r.AuthTime), encList(r.AMR), ts(r.ExpiresAt), ts(now), r.NewCookieKey,
		r.SessionID, r.Subject, r.CookieKey, ts(now))
	if err := affectedOne(res, err); err != nil {
		return err
	}
	for _, q := range []string{
		`UPDATE upstream_sessions SET expires_at = MAX(expires_at, ?) WHERE session_id = ?`,
		`UPDATE saml_participants SET expires_at = MAX(expires_at, ?) WHERE session_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, ts(r.ExpiresAt), r.SessionID); err != nil {
			return err
		}
	}
	return nil
}

// reauthFailed tells why r's compare-and-set changed nothing: ErrConflict when the session is
// live (another cookie value, another subject), else ErrNotFound.
func (s *Store) reauthFailed(ctx context.Context, op string, r *store.SessionReauth) error {
	if _, err := s.Session(ctx, r.SessionID); err == nil {
		return fmt.Errorf("sqlite: %s: %w", op, sso.ErrConflict)
	} else if !errors.Is(err, sso.ErrNotFound) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", op, sso.ErrNotFound)
}

// ReauthenticateSession signs a live session in again (store.SessionStore).
func (s *Store) ReauthenticateSession(ctx context.Context, r *store.SessionReauth) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.reauthTx(ctx, tx, r) })
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
		return errors.New("sqlite: add session client: empty client id")
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.st.touchSession).ExecContext(ctx, ts(at), id, ts(s.clock()))
		if err := affectedOne(res, err); err != nil {
			return err
		}
		_, err = tx.StmtContext(ctx, s.st.addSessionClient).ExecContext(ctx, id, clientID)
		return err
	})
	return wrap("add session client", err)
}

// LeaveClient takes clientID out of every live session of subject (store.SessionStore).
func (s *Store) LeaveClient(ctx context.Context, subject, clientID string) (int, error) {
	res, err := s.wexec(ctx, leaveClientSQL, clientID, subject, ts(s.clock()))
	if err != nil {
		return 0, wrap("leave client", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("leave client", err)
}

// leaveClientSQL takes client $1 out of every live session of subject $2 at $3 (LeaveClient,
// SignOutOfClient).
const leaveClientSQL = `DELETE FROM session_clients WHERE client_id = ? AND session_id IN
		(SELECT id FROM sessions WHERE subject = ? AND ended = 0 AND expires_at > ?)`

// EndSession ends one session (idempotent).
// Its live console sessions end with it (endConsoleOfBridge), and so do its session-bound
// grants (revokeSessionBound).
func (s *Store) EndSession(ctx context.Context, id string) error {
	return wrap("end session", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := endSessionTx(ctx, tx, s.clock(), id)
		return err
	}))
}

// endSessionTx ends the session id in tx, and its live console sessions and session-bound
// grants when it was live; it reports whether it was (false: unknown or ended already).
func endSessionTx(ctx context.Context, tx *sql.Tx, now time.Time, id string) (bool, error) {
	var subject string
	err := tx.QueryRowContext(ctx, `UPDATE sessions SET ended = 1 WHERE id = ? AND ended = 0 RETURNING subject`, id).Scan(&subject)
	if errors.Is(err, sql.ErrNoRows) {
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

// endedSessionTx reads, in the transaction that ended it, the session id with its clients
// and its SAML participants (store.EndedSession). The transaction holds SQLite's one write
// lock, so whatever AddSessionClient or AddSAMLParticipant committed is in it, and none
// commits after the end without finding the session ended.
func endedSessionTx(ctx context.Context, tx *sql.Tx, now time.Time, id string) (*store.EndedSession, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id
		WHERE s.id = ? ORDER BY c.seq`, id)
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
	rows, err = tx.QueryContext(ctx, `SELECT `+participantCols+` FROM saml_participants WHERE session_id = ? AND expires_at > ? ORDER BY seq`,
		id, ts(now))
	if err != nil {
		return nil, err
	}
	ps, err := scanParticipants(rows)
	if err != nil {
		return nil, err
	}
	return &store.EndedSession{Session: l[0], SAMLParticipants: ps}, nil
}

// revokeSessionBound revokes, in tx, the session-bound grants of subject's sessions ids (a
// few: endSubjectSessions selects its sessions in the statement instead): the
// families signed in with one of them that hold no refresh token (granted without
// offline_access, OIDC Core 11), so that their access tokens end with the session. A family
// with a refresh token is an offline_access grant: it outlives the sign-out by design. The
// subject's grants are found by family_grants_subject, then filtered by session.
func revokeSessionBound(ctx context.Context, tx *sql.Tx, subject string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{subject}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := tx.ExecContext(ctx, `UPDATE families SET revoked = 1
		WHERE family_id IN (SELECT g.family_id FROM family_grants g
			WHERE g.subject = ? AND g.session_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`))
		AND token_hash = '' AND revoked = 0`, args...)
	return err
}

// Sessions lists live sessions, oldest first, filtered by subject when not empty.
func (s *Store) Sessions(ctx context.Context, subject string) ([]*sso.Session, error) {
	q := `SELECT ` + sessionCols + ` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id
		WHERE s.ended = 0 AND s.expires_at > ?`
	args := []any{ts(s.clock())}
	if subject != "" {
		q += ` AND s.subject = ?`
		args = append(args, subject)
	}
	q += ` ORDER BY s.created_at, s.id, c.seq`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("sessions", err)
	}
	l, err := scanSessions(rows)
	return l, wrap("sessions", err)
}

// EndSubjectSessions ends every live session of subject and returns them (Ended set), oldest
// first, with their clients, so that the caller can log the clients out.
func (s *Store) EndSubjectSessions(ctx context.Context, subject string) ([]*sso.Session, error) {
	if subject == "" {
		return nil, errors.New("sqlite: end subject sessions: empty subject")
	}
	var out []*sso.Session
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		out, err = endSubjectSessions(ctx, tx, subject, s.clock())
		return err
	})
	if err != nil {
		return nil, wrap("end subject sessions", err)
	}
	return out, nil
}

// endSubjectSessions ends, in tx at now, every live session of subject and the console
// sessions they carry, and returns them (Ended set), oldest first, with their clients
// (EndSubjectSessions, and a deactivation that ends sessions).
func endSubjectSessions(ctx context.Context, tx *sql.Tx, subject string, at time.Time) ([]*sso.Session, error) {
	now := ts(at)
	rows, err := tx.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions s
		LEFT JOIN session_clients c ON c.session_id = s.id
		WHERE s.subject = ? AND s.ended = 0 AND s.expires_at > ?
		ORDER BY s.created_at, s.id, c.seq`, subject, now)
	if err != nil {
		return nil, err
	}
	out, err := scanSessions(rows)
	if err != nil {
		return nil, err
	}
	// The live sessions' session-bound grants first, read by the statement itself: a list of
	// their ids as parameters would fail past SQLite's 32,766 (a member can pile sessions up),
	// and with it every session's end.
	if _, err := tx.ExecContext(ctx, `UPDATE families SET revoked = 1
		WHERE family_id IN (SELECT g.family_id FROM family_grants g
			WHERE g.subject = ?1 AND g.session_id IN (SELECT id FROM sessions
				WHERE subject = ?1 AND ended = 0 AND expires_at > ?2))
		AND token_hash = '' AND revoked = 0`, subject, now); err != nil {
		return nil, err
	}
	if _, err = tx.ExecContext(ctx, `UPDATE sessions SET ended = 1
		WHERE subject = ? AND ended = 0 AND expires_at > ?`, subject, now); err != nil {
		return nil, err
	}
	if err := endConsoleOfBridge(ctx, tx, at, sessionIDs(out)...); err != nil {
		return nil, err
	}
	for _, ss := range out {
		ss.Ended = true
	}
	return out, nil
}
