package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/sso"
)

const deviceCols = `device_code_hash, user_code, client_id, scopes, created_at, expires_at, interval_ns,
	last_polled, state, subject, auth_time, amr, session_id, resources`

// deviceSlowDownStep is what RFC 8628 section 3.5 adds to the interval on every slow_down.
const deviceSlowDownStep = 5 * time.Second

func scanDevice(row pgx.Row) (*sso.DeviceAuthorization, error) {
	var (
		d                                                sso.DeviceAuthorization
		scopes, amr, state, resources                    string
		createdAt, expiresAt, interval, polled, authTime int64
	)
	err := row.Scan(&d.DeviceCodeHash, &d.UserCode, &d.ClientID, &scopes, &createdAt, &expiresAt, &interval,
		&polled, &state, &d.Subject, &authTime, &amr, &d.SessionID, &resources)
	if err != nil {
		return nil, err
	}
	if err := decLists(listCol{&d.Scopes, scopes}, listCol{&d.AMR, amr}, listCol{&d.Resources, resources}); err != nil {
		return nil, err
	}
	d.CreatedAt, d.ExpiresAt, d.LastPolled, d.AuthTime = tm(createdAt), tm(expiresAt), tm(polled), tm(authTime)
	d.Interval, d.State = time.Duration(interval), sso.DeviceState(state)
	return &d, nil
}

// CreateDeviceAuthorization inserts a pending device authorization; an expired one holding the
// same user code is replaced, a live one is sso.ErrConflict.
func (s *Store) CreateDeviceAuthorization(ctx context.Context, d *sso.DeviceAuthorization) error {
	if d.DeviceCodeHash == "" || d.UserCode == "" {
		return errors.New("postgres: create device authorization: empty device code hash or user code")
	}
	state := d.State
	if state == "" {
		state = sso.DevicePending
	}
	now := s.clock()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM device_authorizations WHERE user_code = $1 AND expires_at <= $2`,
			d.UserCode, ts(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO device_authorizations (`+deviceCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			d.DeviceCodeHash, d.UserCode, d.ClientID, encList(d.Scopes), ts(orNow(d.CreatedAt, now)), ts(d.ExpiresAt),
			int64(d.Interval), ts(d.LastPolled), string(state), d.Subject, ts(d.AuthTime), encList(d.AMR), d.SessionID,
			encList(d.Resources))
		return err
	})
	return wrap("create device authorization", err)
}

// DeviceAuthorizationByUserCode returns the authorization by user code; sso.ErrNotFound when
// unknown or expired.
func (s *Store) DeviceAuthorizationByUserCode(ctx context.Context, userCode string) (*sso.DeviceAuthorization, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceCols+` FROM device_authorizations
		WHERE user_code = $1 AND expires_at > $2`, userCode, ts(s.clock())))
	if err != nil {
		return nil, wrap("device authorization", err)
	}
	return d, nil
}

// DecideDeviceAuthorization approves or denies a pending, unexpired authorization
// (compare-and-set on the state).
func (s *Store) DecideDeviceAuthorization(ctx context.Context, userCode string, approve bool, c sso.Completion, now time.Time) error {
	var err error
	if approve {
		err = execOne(ctx, s.pool, `UPDATE device_authorizations
			SET state = $1, subject = $2, auth_time = $3, amr = $4, session_id = $5
			WHERE user_code = $6 AND state = $7 AND expires_at > $8`,
			string(sso.DeviceApproved), c.Subject, ts(c.AuthTime), encList(c.AMR), c.SessionID,
			userCode, string(sso.DevicePending), ts(now))
	} else {
		err = execOne(ctx, s.pool, `UPDATE device_authorizations SET state = $1
			WHERE user_code = $2 AND state = $3 AND expires_at > $4`,
			string(sso.DeviceDenied), userCode, string(sso.DevicePending), ts(now))
	}
	return wrap("decide device authorization", err)
}

// PollDeviceAuthorization records a poll (see sso.DeviceStore); another client's device code
// is not found and not touched. The row is locked (FOR UPDATE) for the transaction, so
// concurrent polls are applied one after the other (the interval grows once per fast poll).
func (s *Store) PollDeviceAuthorization(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (*sso.DeviceAuthorization, error) {
	var (
		out     *sso.DeviceAuthorization
		slowErr error
	)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		d, err := scanDevice(tx.QueryRow(ctx, `SELECT `+deviceCols+` FROM device_authorizations
			WHERE device_code_hash = $1 AND client_id = $2 FOR UPDATE`, deviceCodeHash, clientID))
		if err != nil {
			return err
		}
		out = d
		final := d.State == sso.DeviceConsumed || d.State == sso.DeviceDenied || !now.Before(d.ExpiresAt)
		if !final && !d.LastPolled.IsZero() && now.Sub(d.LastPolled) < d.Interval-d.Interval/sso.DevicePollTolerance {
			d.Interval += deviceSlowDownStep
			slowErr = fmt.Errorf("postgres: poll device authorization: %w", sso.ErrSlowDown)
			_, err := tx.Exec(ctx, `UPDATE device_authorizations SET interval_ns = $1, last_polled = $2
				WHERE device_code_hash = $3`, int64(d.Interval), ts(now), deviceCodeHash)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE device_authorizations SET last_polled = $1
			WHERE device_code_hash = $2`, ts(now), deviceCodeHash)
		return err
	})
	if err != nil {
		return nil, wrap("poll device authorization", err)
	}
	return out, slowErr
}

// ConsumeDeviceAuthorization moves an approved, unexpired authorization to consumed
// (compare-and-set on the state), whatever its session: the provider closes a refused
// authorization with it. A grant consumes its device code in IssueTokens (consumeDevice).
func (s *Store) ConsumeDeviceAuthorization(ctx context.Context, deviceCodeHash, clientID string, now time.Time) error {
	err := execOne(ctx, s.pool, `UPDATE device_authorizations SET state = $1
		WHERE device_code_hash = $2 AND client_id = $3 AND state = $4 AND expires_at > $5`,
		string(sso.DeviceConsumed), deviceCodeHash, clientID, string(sso.DeviceApproved), ts(now))
	return wrap("consume device authorization", err)
}

// consumeDeviceSQL is a device grant's compare-and-set on its device code, in IssueTokens'
// transaction (sso.Issue.ConsumeDevice): ConsumeDeviceAuthorization's ($1 consumed, $2 hash,
// $3 client, $4 approved, $5 now), which also does not consume an authorization approved in a
// session that has ended. The session's row is read FOR SHARE, as a code's (codeSessionLive):
// an end in progress (its UPDATE holds the row) is waited for and then read ended; an end that
// comes after waits for this transaction, and then revokes the family it wrote. An approval
// that names a session needs its row found, not ended and not expired at $5: Purge deletes an
// ended session within the minute (review s22 X-1), and an expired one is held until then.
const consumeDeviceSQL = `UPDATE device_authorizations SET state = $1
	WHERE device_code_hash = $2 AND client_id = $3 AND state = $4 AND expires_at > $5
	AND COALESCE((SELECT NOT s.ended AND s.expires_at > $5 FROM sessions s WHERE s.id = device_authorizations.session_id FOR SHARE),
		device_authorizations.session_id = '')`

// consumeDevice consumes the device authorization c names (consumeDeviceSQL), or says why it
// cannot: ErrSessionEnded (approved, unexpired, its session ended, expired or no longer
// held), else ErrNotFound. The
// state is read by a new statement, which under READ COMMITTED sees what committed before it,
// a concurrent winner included.
func consumeDevice(ctx context.Context, q querier, c *sso.DeviceConsumption, now int64) error {
	err := execOne(ctx, q, consumeDeviceSQL, string(sso.DeviceConsumed), c.DeviceCodeHash, c.ClientID, string(sso.DeviceApproved), now)
	switch {
	case err == nil:
		return nil
	case !isNoRows(err):
		return fmt.Errorf("consume device authorization: %w", err)
	}
	var ended bool
	err = q.QueryRow(ctx, `SELECT COALESCE((SELECT s.ended OR s.expires_at <= $4 FROM sessions s WHERE s.id = d.session_id), d.session_id <> '')
		FROM device_authorizations d WHERE device_code_hash = $1 AND client_id = $2 AND state = $3 AND expires_at > $4`,
		c.DeviceCodeHash, c.ClientID, string(sso.DeviceApproved), now).Scan(&ended)
	switch {
	case isNoRows(err) || (err == nil && !ended):
		return fmt.Errorf("consume device authorization: %w", sso.ErrNotFound)
	case err != nil:
		return fmt.Errorf("consume device authorization: %w", err)
	}
	return fmt.Errorf("consume device authorization: %w", sso.ErrSessionEnded)
}

// PurgeDeviceAuthorizations deletes authorizations that expired before before.
func (s *Store) PurgeDeviceAuthorizations(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purgeBatches(ctx, `DELETE FROM device_authorizations WHERE device_code_hash IN
		(SELECT device_code_hash FROM device_authorizations WHERE expires_at <= $1 LIMIT $2)`, ts(before))
	return n, wrap("purge device authorizations", err)
}
