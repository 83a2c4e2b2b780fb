package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

const shadowCols = `client_id, subject, digest, active, view, external_id, created_at, updated_at`

func scanShadow(row pgx.Row) (*store.ShadowUser, error) {
	var (
		u                store.ShadowUser
		created, updated int64
	)
	if err := row.Scan(&u.ClientID, &u.Subject, &u.Digest, &u.Active, &u.View, &u.ExternalID, &created, &updated); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = tm(created), tm(updated)
	return &u, nil
}

// ShadowUser returns the shadow user of (client, subject); ErrNotFound when none.
func (s *Store) ShadowUser(ctx context.Context, clientID, subject string) (*store.ShadowUser, error) {
	u, err := scanShadow(s.pool.QueryRow(ctx, `SELECT `+shadowCols+` FROM shadow_users
		WHERE client_id = $1 AND subject = $2`, clientID, subject))
	if err != nil {
		return nil, wrap("shadow user", err)
	}
	return u, nil
}

// ShadowUsers lists shadow users ordered by client and subject, filtered when not empty.
func (s *Store) ShadowUsers(ctx context.Context, clientID, subject string) ([]*store.ShadowUser, error) {
	q, args := `SELECT `+shadowCols+` FROM shadow_users WHERE TRUE`, []any{}
	if clientID != "" {
		args = append(args, clientID)
		q += ` AND client_id = $1`
	}
	if subject != "" {
		args = append(args, subject)
		q += fmt.Sprintf(` AND subject = $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY client_id COLLATE "C", subject COLLATE "C"`, args...)
	if err != nil {
		return nil, wrap("shadow users", err)
	}
	out, err := collect(rows, scanShadow)
	return out, wrap("shadow users", err)
}

// ShadowUsersOf lists the shadow users of subjects, ordered by subject and client.
func (s *Store) ShadowUsersOf(ctx context.Context, subjects []string) ([]*store.ShadowUser, error) {
	subjects = slices.Compact(slices.Sorted(slices.Values(subjects)))
	if len(subjects) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+shadowCols+` FROM shadow_users
		WHERE subject = ANY($1) ORDER BY subject COLLATE "C", client_id COLLATE "C"`, subjects)
	if err != nil {
		return nil, wrap("shadow users of subjects", err)
	}
	out, err := collect(rows, scanShadow)
	return out, wrap("shadow users of subjects", err)
}

// putShadow writes u in tx when its digest or active flag changed; it reports whether it wrote.
func (s *Store) putShadow(ctx context.Context, tx pgx.Tx, u *store.ShadowUser) (bool, error) {
	if u == nil || u.ClientID == "" || u.Subject == "" {
		return false, errors.New("empty client or subject")
	}
	if inserted, err := s.insertShadow(ctx, tx, u); err != nil || inserted {
		return inserted, err
	}
	return s.updateShadow(ctx, tx, u)
}

// insertShadow inserts u in tx unless its row exists (a concurrent insert makes this one do
// nothing, and wait for it); it reports whether it inserted.
func (s *Store) insertShadow(ctx context.Context, tx pgx.Tx, u *store.ShadowUser) (bool, error) {
	now := s.clock()
	tag, err := tx.Exec(ctx, `INSERT INTO shadow_users (`+shadowCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (client_id, subject) DO NOTHING`,
		u.ClientID, u.Subject, u.Digest, u.Active, u.View, u.ExternalID,
		ts(orNow(u.CreatedAt, now)), ts(orNow(u.UpdatedAt, now)))
	return err == nil && tag.RowsAffected() == 1, err
}

// updateShadow writes u over its row in tx when its digest or active flag differs; it reports
// whether it wrote.
func (s *Store) updateShadow(ctx context.Context, tx pgx.Tx, u *store.ShadowUser) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE shadow_users SET digest = $1, active = $2, view = $3, updated_at = $4
		WHERE client_id = $5 AND subject = $6 AND (digest <> $1 OR active <> $2)`,
		u.Digest, u.Active, u.View, ts(orNow(u.UpdatedAt, s.clock())), u.ClientID, u.Subject)
	return err == nil && tag.RowsAffected() == 1, err
}

// PutShadowUser writes u and events in one transaction when u changed (see store.ShadowStore).
func (s *Store) PutShadowUser(ctx context.Context, u *store.ShadowUser, events ...*store.OutboxEvent) (bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
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
// store.ShadowStore). The watermark's row is read FOR SHARE and the shadow user's FOR UPDATE:
// a SetWatermark of the epoch or another write of the user waits for this transaction (or
// came first, and this one sees it). A shadow user that was absent is inserted only if it
// still is (a concurrent insert makes this one fail).
func (s *Store) PutShadowUserIf(ctx context.Context, cond store.ShadowCond, u *store.ShadowUser, events ...*store.OutboxEvent) (bool, error) {
	if cond.Epoch == "" || u == nil || u.ClientID == "" || u.Subject == "" {
		return false, errors.New("postgres: put shadow user if: no epoch, client or subject")
	}
	var changed bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var epoch int64
		if err := tx.QueryRow(ctx, `SELECT value FROM watermarks WHERE name = $1 FOR SHARE`, cond.Epoch).Scan(&epoch); err != nil && !isNoRows(err) {
			return err
		}
		if epoch != ts(cond.EpochValue) {
			if cond.Fenced {
				return store.ErrFenced
			}
			return store.ErrShadowChanged
		}
		var (
			digest string
			active bool
		)
		err := tx.QueryRow(ctx, `SELECT digest, active FROM shadow_users WHERE client_id = $1 AND subject = $2 FOR UPDATE`,
			u.ClientID, u.Subject).Scan(&digest, &active)
		switch {
		case isNoRows(err):
			if cond.Prev != nil {
				return store.ErrShadowChanged
			}
			inserted, err := s.insertShadow(ctx, tx, u)
			if err != nil {
				return err
			}
			if !inserted {
				return store.ErrShadowChanged // inserted meanwhile
			}
			changed = true
			return s.enqueue(ctx, tx, events)
		case err != nil:
			return err
		case cond.Prev == nil || cond.Prev.Digest != digest || cond.Prev.Active != active:
			return store.ErrShadowChanged
		}
		// The row exists and is locked (FOR UPDATE): only the update can apply.
		if changed, err = s.updateShadow(ctx, tx, u); err != nil || !changed {
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
	err := execOne(ctx, s.pool, `UPDATE shadow_users SET external_id = $1 WHERE client_id = $2 AND subject = $3`,
		externalID, clientID, subject)
	return wrap("set shadow external id", err)
}

// Deactivate ends sessions, revokes grants and writes shadow users and events in one transaction.
func (s *Store) Deactivate(ctx context.Context, d *store.Deactivation) ([]*sso.Session, error) {
	if d == nil || d.Subject == "" {
		return nil, errors.New("postgres: deactivate: empty subject")
	}
	var ended []*sso.Session
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
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
// reads them, and reads nothing itself: tx holds a connection of the pool, which may have no
// other to give (a pool of one, or as many deactivations at once as it has; review s21 X3-3).
func (s *Store) deactivate(ctx context.Context, tx pgx.Tx, d *store.Deactivation) ([]*sso.Session, error) {
	if err := checkFence(ctx, tx, d.Fence); err != nil {
		return nil, err
	}
	var ended []*sso.Session
	now := ts(s.clock())
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
// clients, read after their end's UPDATE got their rows) with their SAML participants, read in
// tx too: every AddSAMLParticipant that committed before the end (it reads the session's row
// FOR SHARE, so it waits for the end and then finds the session ended), none after.
func endedSessionsTx(ctx context.Context, tx pgx.Tx, now int64, ended []*sso.Session) ([]*store.EndedSession, error) {
	out := make([]*store.EndedSession, 0, len(ended))
	if len(ended) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(ended))
	for _, e := range ended {
		ids = append(ids, e.ID)
	}
	rows, err := tx.Query(ctx, `SELECT `+participantCols+` FROM saml_participants WHERE session_id = ANY($1) AND expires_at > $2 ORDER BY seq`,
		ids, now)
	if err != nil {
		return nil, err
	}
	ps, err := scanParticipants(rows)
	if err != nil {
		return nil, err
	}
	of := make(map[string][]*store.SAMLParticipant, len(ended))
	for _, p := range ps {
		of[p.SessionID] = append(of[p.SessionID], p)
	}
	for _, e := range ended {
		out = append(out, &store.EndedSession{Session: e, SAMLParticipants: of[e.ID]})
	}
	return out, nil
}

// Watermark returns the named watermark; the zero time when never set.
func (s *Store) Watermark(ctx context.Context, name string) (time.Time, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT value FROM watermarks WHERE name = $1`, name).Scan(&v)
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
		return errors.New("postgres: set watermark: empty name")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO watermarks (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, ts(t))
	return wrap("set watermark", err)
}

// ReconcileState returns the named reconcile progress; the zero value when never set.
func (s *Store) ReconcileState(ctx context.Context, name string) (store.ReconcileState, error) {
	var (
		st                store.ReconcileState
		started, finished int64
	)
	err := s.pool.QueryRow(ctx, `SELECT started_at, cursor, finished_at, gone FROM reconcile_state WHERE name = $1`, name).
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
		return errors.New("postgres: set reconcile state: empty name")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO reconcile_state (name, started_at, cursor, finished_at, gone) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, cursor = excluded.cursor,
		finished_at = excluded.finished_at, gone = excluded.gone`, name, ts(st.StartedAt), st.Cursor, ts(st.FinishedAt), int64(st.Gone))
	return wrap("set reconcile state", err)
}

// prefixed qualifies each column of a column list with prefix.
func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func sortBySeq(l []*store.OutboxEvent) {
	sort.Slice(l, func(i, j int) bool { return l[i].Seq < l[j].Seq })
}

// PollRetries returns the change poller's retry list, by member key.
func (s *Store) PollRetries(ctx context.Context) ([]store.PollRetry, error) {
	rows, err := s.pool.Query(ctx, `SELECT member_key, attempts, next_try, unconfirmed FROM poll_retries ORDER BY member_key COLLATE "C"`)
	if err != nil {
		return nil, wrap("poll retries", err)
	}
	defer rows.Close()
	var out []store.PollRetry
	for rows.Next() {
		var (
			r              store.PollRetry
			attempts, next int64
		)
		if err := rows.Scan(&r.MemberKey, &attempts, &next, &r.Unconfirmed); err != nil {
			return nil, wrap("poll retries", err)
		}
		r.Attempts, r.NextTry = int(attempts), tm(next)
		out = append(out, r)
	}
	return out, wrap("poll retries", rows.Err())
}

// checkFence answers store.ErrFenced when fence is set and its watermark no longer holds its
// value. The row is read FOR SHARE: another holder's move of it waits until tx ends.
func checkFence(ctx context.Context, tx pgx.Tx, fence store.Fence) error {
	if fence.Epoch == "" {
		return nil
	}
	var epoch int64
	if err := tx.QueryRow(ctx, `SELECT value FROM watermarks WHERE name = $1 FOR SHARE`, fence.Epoch).Scan(&epoch); err != nil && !isNoRows(err) {
		return err
	}
	if epoch != ts(fence.Value) {
		return store.ErrFenced
	}
	return nil
}

// SetPollProgress writes the retry list's changes and the watermark in one transaction.
// With a fence, the fence's watermark is read FOR SHARE first, in the same transaction: it must
// hold the fence's value, and another holder's move of it waits until this write commits.
func (s *Store) SetPollProgress(ctx context.Context, name string, mark time.Time, put []store.PollRetry, del []string, fence store.Fence) error {
	if name == "" {
		return errors.New("postgres: set poll progress: empty name")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, fence); err != nil {
			return err
		}
		for _, r := range put {
			if r.MemberKey == "" {
				return errors.New("poll retry without a member key")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO poll_retries (member_key, attempts, next_try, unconfirmed) VALUES ($1, $2, $3, $4)
				ON CONFLICT (member_key) DO UPDATE SET attempts = excluded.attempts, next_try = excluded.next_try,
				unconfirmed = excluded.unconfirmed`, r.MemberKey, int64(r.Attempts), ts(r.NextTry), r.Unconfirmed); err != nil {
				return err
			}
		}
		if len(del) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM poll_retries WHERE member_key = ANY($1)`, del); err != nil {
				return err
			}
		}
		if mark.IsZero() {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO watermarks (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, ts(mark))
		return err
	})
	if errors.Is(err, store.ErrFenced) {
		return store.ErrFenced
	}
	return wrap("set poll progress", err)
}
