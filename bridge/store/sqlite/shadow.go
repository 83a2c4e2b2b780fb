package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

const shadowCols = `client_id, subject, digest, active, view, external_id, created_at, updated_at`

func scanShadow(row scanner) (*store.ShadowUser, error) {
	var (
		u                store.ShadowUser
		active           int
		created, updated int64
	)
	if err := row.Scan(&u.ClientID, &u.Subject, &u.Digest, &active, &u.View, &u.ExternalID, &created, &updated); err != nil {
		return nil, err
	}
	u.Active, u.CreatedAt, u.UpdatedAt = active != 0, tm(created), tm(updated)
	return &u, nil
}

// ShadowUser returns the shadow user of (client, subject); ErrNotFound when none.
func (s *Store) ShadowUser(ctx context.Context, clientID, subject string) (*store.ShadowUser, error) {
	u, err := scanShadow(s.r.QueryRowContext(ctx, `SELECT `+shadowCols+` FROM shadow_users
		WHERE client_id = ? AND subject = ?`, clientID, subject))
	if err != nil {
		return nil, wrap("shadow user", err)
	}
	return u, nil
}

// ShadowUsers lists shadow users ordered by client and subject, filtered when not empty.
func (s *Store) ShadowUsers(ctx context.Context, clientID, subject string) ([]*store.ShadowUser, error) {
	q, args := `SELECT `+shadowCols+` FROM shadow_users WHERE 1 = 1`, []any{}
	if clientID != "" {
		q, args = q+` AND client_id = ?`, append(args, clientID)
	}
	if subject != "" {
		q, args = q+` AND subject = ?`, append(args, subject)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY client_id, subject`, args...)
	if err != nil {
		return nil, wrap("shadow users", err)
	}
	defer rows.Close()
	var out []*store.ShadowUser
	for rows.Next() {
		u, err := scanShadow(rows)
		if err != nil {
			return nil, wrap("shadow users", err)
		}
		out = append(out, u)
	}
	return out, wrap("shadow users", rows.Err())
}

// shadowUsersChunk bounds the parameters of one ShadowUsersOf query.
const shadowUsersChunk = 500

// ShadowUsersOf lists the shadow users of subjects, ordered by subject and client.
func (s *Store) ShadowUsersOf(ctx context.Context, subjects []string) ([]*store.ShadowUser, error) {
	subjects = slices.Compact(slices.Sorted(slices.Values(subjects)))
	var out []*store.ShadowUser
	for len(subjects) > 0 {
		chunk := subjects[:min(shadowUsersChunk, len(subjects))]
		subjects = subjects[len(chunk):]
		args := make([]any, len(chunk))
		for i, v := range chunk {
			args[i] = v
		}
		rows, err := s.r.QueryContext(ctx, `SELECT `+shadowCols+` FROM shadow_users
			WHERE subject IN (?`+strings.Repeat(", ?", len(chunk)-1)+`) ORDER BY subject, client_id`, args...)
		if err != nil {
			return nil, wrap("shadow users of subjects", err)
		}
		for rows.Next() {
			u, err := scanShadow(rows)
			if err != nil {
				rows.Close()
				return nil, wrap("shadow users of subjects", err)
			}
			out = append(out, u)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, wrap("shadow users of subjects", err)
		}
	}
	return out, nil
}

// shadowRow is a shadow user's row as a write's transaction read it (found false: none).
type shadowRow struct {
	found  bool
	digest string
	active bool
}

// readShadow reads the row of the shadow user of clientID and subject in tx.
func readShadow(ctx context.Context, tx *sql.Tx, clientID, subject string) (shadowRow, error) {
	var (
		r      shadowRow
		active int
	)
	err := tx.QueryRowContext(ctx, `SELECT digest, active FROM shadow_users WHERE client_id = ? AND subject = ?`,
		clientID, subject).Scan(&r.digest, &active)
	if isNoRows(err) {
		return shadowRow{}, nil
	}
	r.found, r.active = err == nil, active != 0
	return r, err
}

// putShadow writes u in tx when its digest or active flag changed; it reports whether it wrote.
func (s *Store) putShadow(ctx context.Context, tx *sql.Tx, u *store.ShadowUser) (bool, error) {
	if u == nil || u.ClientID == "" || u.Subject == "" {
		return false, errors.New("empty client or subject")
	}
	cur, err := readShadow(ctx, tx, u.ClientID, u.Subject)
	if err != nil {
		return false, err
	}
	return s.writeShadow(ctx, tx, u, cur)
}

// writeShadow writes u in tx over its row cur, read in tx: inserted when there was none,
// updated when its digest or active flag changed; it reports whether it wrote.
func (s *Store) writeShadow(ctx context.Context, tx *sql.Tx, u *store.ShadowUser, cur shadowRow) (bool, error) {
	now := s.clock()
	switch {
	case !cur.found:
		_, err := tx.ExecContext(ctx, `INSERT INTO shadow_users (`+shadowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ClientID, u.Subject, u.Digest, b2i(u.Active), u.View, u.ExternalID,
			ts(orNow(u.CreatedAt, now)), ts(orNow(u.UpdatedAt, now)))
		return err == nil, err
	case cur.digest == u.Digest && cur.active == u.Active:
		return false, nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE shadow_users SET digest = ?, active = ?, view = ?, updated_at = ?
		WHERE client_id = ? AND subject = ?`, u.Digest, b2i(u.Active), u.View, ts(orNow(u.UpdatedAt, now)),
		u.ClientID, u.Subject)
	return err == nil, err
}

// PutShadowUser writes u and events in one transaction when u changed (see store.ShadowStore).
func (s *Store) PutShadowUser(ctx context.Context, u *store.ShadowUser, events ...*store.OutboxEvent) (bool, error) {
	var changed bool
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if changed, err = s.putShadow(ctx, tx, u); err != nil || !changed {
			return err
		}
		return s.enqueue(ctx, tx, events)
	})
	if err != nil {
		return false, wrap("put shadow user", err)
	}
	return changed, nil
}

// PutShadowUserIf writes u and events in one transaction when cond holds and u changed (see
// store.ShadowStore); the write transaction excludes every other writer.
func (s *Store) PutShadowUserIf(ctx context.Context, cond store.ShadowCond, u *store.ShadowUser, events ...*store.OutboxEvent) (bool, error) {
	if cond.Epoch == "" || u == nil || u.ClientID == "" || u.Subject == "" {
		return false, errors.New("sqlite: put shadow user if: no epoch, client or subject")
	}
	var changed bool
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var epoch int64
		if err := tx.QueryRowContext(ctx, `SELECT value FROM watermarks WHERE name = ?`, cond.Epoch).Scan(&epoch); err != nil && !isNoRows(err) {
			return err
		}
		if epoch != ts(cond.EpochValue) {
			if cond.Fenced {
				return store.ErrFenced
			}
			return store.ErrShadowChanged
		}
		cur, err := readShadow(ctx, tx, u.ClientID, u.Subject)
		switch {
		case err != nil:
			return err
		case !cur.found:
			if cond.Prev != nil {
				return store.ErrShadowChanged
			}
		case cond.Prev == nil || cond.Prev.Digest != cur.digest || cond.Prev.Active != cur.active:
			return store.ErrShadowChanged
		}
		if changed, err = s.writeShadow(ctx, tx, u, cur); err != nil || !changed {
			return err
		}
		return s.enqueue(ctx, tx, events)
	})
	switch {
	case errors.Is(err, store.ErrShadowChanged):
		return false, store.ErrShadowChanged
	case errors.Is(err, store.ErrFenced):
		return false, store.ErrFenced
	case err != nil:
		return false, wrap("put shadow user if", err)
	}
	return changed, nil
}

// SetShadowExternalID records the target's id of a shadow user.
func (s *Store) SetShadowExternalID(ctx context.Context, clientID, subject, externalID string) error {
	res, err := s.wexec(ctx, `UPDATE shadow_users SET external_id = ? WHERE client_id = ? AND subject = ?`,
		externalID, clientID, subject)
	if err := affectedOne(res, err); err != nil {
		return wrap("set shadow external id", err)
	}
	return nil
}

// Deactivate ends sessions, revokes grants and writes shadow users and events in one transaction.
func (s *Store) Deactivate(ctx context.Context, d *store.Deactivation) ([]*sso.Session, error) {
	if d == nil || d.Subject == "" {
		return nil, errors.New("sqlite: deactivate: empty subject")
	}
	var ended []*sso.Session
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		ended, err = s.deactivate(ctx, tx, d)
		return err
	})
	if errors.Is(err, store.ErrFenced) {
		return nil, store.ErrFenced
	}
	if err != nil {
		return nil, wrap("deactivate", err)
	}
	return ended, nil
}

// deactivate applies d in tx and returns the sessions it ended. d.Logout gets them as tx
// reads them, and reads nothing itself: the read connections do not see what tx and the
// writes batched with it have not committed (and an in-memory database reads with tx's own
// connection).
func (s *Store) deactivate(ctx context.Context, tx *sql.Tx, d *store.Deactivation) ([]*sso.Session, error) {
	if err := checkFence(ctx, tx, d.Fence); err != nil {
		return nil, err
	}
	var ended []*sso.Session
	now := s.clock()
	if d.EndSessions {
		var err error
		if ended, err = endSubjectSessions(ctx, tx, d.Subject, now); err != nil {
			return nil, err
		}
	}
	if err := revokeGrants(ctx, tx, d.Subject, d.RevokeClient); err != nil {
		return nil, err
	}
	for _, u := range d.Users {
		changed, err := s.putShadow(ctx, tx, u.User)
		if err != nil {
			return nil, err
		}
		if changed {
			if err := s.enqueue(ctx, tx, u.Events); err != nil {
				return nil, err
			}
		}
	}
	events := d.Events
	if d.Logout != nil {
		es, err := endedSessionsTx(ctx, tx, now, ended)
		if err != nil {
			return nil, err
		}
		logouts, err := d.Logout(es)
		if err != nil {
			return nil, err
		}
		events = append(events[:len(events):len(events)], logouts...)
	}
	return ended, s.enqueue(ctx, tx, events)
}

// endedSessionsTx pairs the sessions a deactivation ended in tx (endSubjectSessions: with their
// clients) with their SAML participants, read in tx too: tx holds SQLite's one write lock, so
// every AddSAMLParticipant committed or batched before it is there, and none comes after
// without finding its session ended. One indexed statement per session (the primary key's
// prefix): a list of ids as parameters would fail past SQLite's 32,766.
func endedSessionsTx(ctx context.Context, tx *sql.Tx, now time.Time, ended []*sso.Session) ([]*store.EndedSession, error) {
	out := make([]*store.EndedSession, 0, len(ended))
	if len(ended) == 0 {
		return out, nil
	}
	stmt, err := tx.PrepareContext(ctx, `SELECT `+participantCols+` FROM saml_participants
		WHERE session_id = ? AND expires_at > ? ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	for _, e := range ended {
		rows, err := stmt.QueryContext(ctx, e.ID, ts(now))
		if err != nil {
			return nil, err
		}
		ps, err := scanParticipants(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, &store.EndedSession{Session: e, SAMLParticipants: ps})
	}
	return out, nil
}

// Watermark returns the named watermark; the zero time when never set.
func (s *Store) Watermark(ctx context.Context, name string) (time.Time, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT value FROM watermarks WHERE name = ?`, name).Scan(&v)
	if isNoRows(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("watermark", err)
	}
	return tm(v), nil
}

// SetWatermark stores the named watermark.
func (s *Store) SetWatermark(ctx context.Context, name string, t time.Time) error {
	if name == "" {
		return errors.New("sqlite: set watermark: empty name")
	}
	_, err := s.wexec(ctx, `INSERT INTO watermarks (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, ts(t))
	return wrap("set watermark", err)
}

// SubjectsByKeyRange lists subjects with after < member_key <= through (no upper bound when
// through is empty), ascending by member key (SQLite's BINARY collation: bytewise, as Go
// compares strings).
func (s *Store) SubjectsByKeyRange(ctx context.Context, after, through string, limit int) ([]*store.Subject, error) {
	q, args := `SELECT `+subjectCols+` FROM subjects WHERE member_key > ?`, []any{after}
	if through != "" {
		q, args = q+` AND member_key <= ?`, append(args, through)
	}
	q += ` ORDER BY member_key`
	if limit > 0 {
		q, args = q+` LIMIT ?`, append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("subjects by key range", err)
	}
	defer rows.Close()
	var out []*store.Subject
	for rows.Next() {
		sub, err := scanSubject(rows)
		if err != nil {
			return nil, wrap("subjects by key range", err)
		}
		out = append(out, sub)
	}
	return out, wrap("subjects by key range", rows.Err())
}

// ReconcileState returns the named reconcile progress; the zero value when never set.
func (s *Store) ReconcileState(ctx context.Context, name string) (store.ReconcileState, error) {
	var (
		st                store.ReconcileState
		started, finished int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT started_at, cursor, finished_at, gone FROM reconcile_state WHERE name = ?`, name).
		Scan(&started, &st.Cursor, &finished, &st.Gone)
	if isNoRows(err) {
		return store.ReconcileState{}, nil
	}
	if err != nil {
		return store.ReconcileState{}, wrap("reconcile state", err)
	}
	st.StartedAt, st.FinishedAt = tm(started), tm(finished)
	return st, nil
}

// SetReconcileState stores the named reconcile progress.
func (s *Store) SetReconcileState(ctx context.Context, name string, st store.ReconcileState) error {
	if name == "" {
		return errors.New("sqlite: set reconcile state: empty name")
	}
	_, err := s.wexec(ctx, `INSERT INTO reconcile_state (name, started_at, cursor, finished_at, gone) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, cursor = excluded.cursor,
		finished_at = excluded.finished_at, gone = excluded.gone`, name, ts(st.StartedAt), st.Cursor, ts(st.FinishedAt), st.Gone)
	return wrap("set reconcile state", err)
}

// PollRetries returns the change poller's retry list, by member key.
func (s *Store) PollRetries(ctx context.Context) ([]store.PollRetry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT member_key, attempts, next_try, unconfirmed FROM poll_retries ORDER BY member_key`)
	if err != nil {
		return nil, wrap("poll retries", err)
	}
	defer rows.Close()
	var out []store.PollRetry
	for rows.Next() {
		var (
			r    store.PollRetry
			next int64
		)
		if err := rows.Scan(&r.MemberKey, &r.Attempts, &next, &r.Unconfirmed); err != nil {
			return nil, wrap("poll retries", err)
		}
		r.NextTry = tm(next)
		out = append(out, r)
	}
	return out, wrap("poll retries", rows.Err())
}

// checkFence answers store.ErrFenced when fence is set and its watermark no longer holds its
// value, read in tx (an immediate transaction: no other writer until it ends).
func checkFence(ctx context.Context, tx *sql.Tx, fence store.Fence) error {
	if fence.Epoch == "" {
		return nil
	}
	var epoch int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM watermarks WHERE name = ?`, fence.Epoch).Scan(&epoch); err != nil && !isNoRows(err) {
		return err
	}
	if epoch != ts(fence.Value) {
		return store.ErrFenced
	}
	return nil
}

// SetPollProgress writes the retry list's changes and the watermark in one transaction.
// With a fence, the fence's watermark is compared first, in the same (immediate) transaction.
func (s *Store) SetPollProgress(ctx context.Context, name string, mark time.Time, put []store.PollRetry, del []string, fence store.Fence) error {
	if name == "" {
		return errors.New("sqlite: set poll progress: empty name")
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := checkFence(ctx, tx, fence); err != nil {
			return err
		}
		for _, r := range put {
			if r.MemberKey == "" {
				return errors.New("poll retry without a member key")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO poll_retries (member_key, attempts, next_try, unconfirmed) VALUES (?, ?, ?, ?)
				ON CONFLICT (member_key) DO UPDATE SET attempts = excluded.attempts, next_try = excluded.next_try,
				unconfirmed = excluded.unconfirmed`, r.MemberKey, r.Attempts, ts(r.NextTry), r.Unconfirmed); err != nil {
				return err
			}
		}
		for _, k := range del {
			if _, err := tx.ExecContext(ctx, `DELETE FROM poll_retries WHERE member_key = ?`, k); err != nil {
				return err
			}
		}
		if mark.IsZero() {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO watermarks (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, ts(mark))
		return err
	})
	if errors.Is(err, store.ErrFenced) {
		return store.ErrFenced
	}
	return wrap("set poll progress", err)
}
