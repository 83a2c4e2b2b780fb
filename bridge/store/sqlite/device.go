package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

var _ sso.DeviceStore = (*Store)(nil)

const deviceCols = `device_code_hash, user_code, client_id, scopes, created_at, expires_at, interval_ns,
	last_polled, state, subject, auth_time, amr, session_id, resources`

// deviceSlowDownStep is what RFC 8628 section 3.5 adds to the interval on every slow_down.
const deviceSlowDownStep = 5 * time.Second

func scanDevice(row scanner) (*sso.DeviceAuthorization, error) {
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
		return errors.New("sqlite: create device authorization: empty device code hash or user code")
	}
	state := d.State
	if state == "" {
		state = sso.DevicePending
	}
	now := ts(s.clock())
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_authorizations WHERE user_code = ? AND expires_at <= ?`,
			d.UserCode, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO device_authorizations (`+deviceCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.DeviceCodeHash, d.UserCode, d.ClientID, encList(d.Scopes), ts(orNow(d.CreatedAt, s.clock())), ts(d.ExpiresAt),
			int64(d.Interval), ts(d.LastPolled), string(state), d.Subject, ts(d.AuthTime), encList(d.AMR), d.SessionID,
			encList(d.Resources))
		return err
	})
	return wrap("create device authorization", err)
}

// DeviceAuthorizationByUserCode returns the authorization by user code; sso.ErrNotFound when
// unknown or expired.
func (s *Store) DeviceAuthorizationByUserCode(ctx context.Context, userCode string) (*sso.DeviceAuthorization, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM device_authorizations
		WHERE user_code = ? AND expires_at > ?`, userCode, ts(s.clock())))
	if err != nil {
		return nil, wrap("device authorization", err)
	}
	return d, nil
}

// DecideDeviceAuthorization approves or denies a pending, unexpired authorization.
func (s *Store) DecideDeviceAuthorization(ctx context.Context, userCode string, approve bool, c sso.Completion, now time.Time) error {
	var (
		res sql.Result
		err error
	)
	if approve {
		res, err = s.wexec(ctx, `UPDATE device_authorizations
			SET state = ?, subject = ?, auth_time = ?, amr = ?, session_id = ?
			WHERE user_code = ? AND state = ? AND expires_at > ?`,
			string(sso.DeviceApproved), c.Subject, ts(c.AuthTime), encList(c.AMR), c.SessionID,
			userCode, string(sso.DevicePending), ts(now))
	} else {
		res, err = s.wexec(ctx, `UPDATE device_authorizations SET state = ?
			WHERE user_code = ? AND state = ? AND expires_at > ?`,
			string(sso.DeviceDenied), userCode, string(sso.DevicePending), ts(now))
	}
	if err := affectedOne(res, err); err != nil {
		return wrap("decide device authorization", err)
	}
	return nil
}

// PollDeviceAuthorization records a poll (see sso.DeviceStore); another client's device code
// is not found and not touched.
func (s *Store) PollDeviceAuthorization(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (*sso.DeviceAuthorization, error) {
	var (
		out     *sso.DeviceAuthorization
		slowErr error
	)
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		slowErr = nil // a run again (writeTx) starts afresh
		d, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM device_authorizations
			WHERE device_code_hash = ? AND client_id = ?`, deviceCodeHash, clientID))
		if err != nil {
			return err
		}
		out = d
		final := d.State == sso.DeviceConsumed || d.State == sso.DeviceDenied || !now.Before(d.ExpiresAt)
		if !final && !d.LastPolled.IsZero() && now.Sub(d.LastPolled) < d.Interval-d.Interval/sso.DevicePollTolerance {
			d.Interval += deviceSlowDownStep
			slowErr = fmt.Errorf("sqlite: poll device authorization: %w", sso.ErrSlowDown)
			_, err := tx.ExecContext(ctx, `UPDATE device_authorizations SET interval_ns = ?, last_polled = ?
				WHERE device_code_hash = ?`, int64(d.Interval), ts(now), deviceCodeHash)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE device_authorizations SET last_polled = ?
			WHERE device_code_hash = ?`, ts(now), deviceCodeHash)
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
	res, err := s.wexec(ctx, `UPDATE device_authorizations SET state = ?
		WHERE device_code_hash = ? AND client_id = ? AND state = ? AND expires_at > ?`,
		string(sso.DeviceConsumed), deviceCodeHash, clientID, string(sso.DeviceApproved), ts(now))
	if err := affectedOne(res, err); err != nil {
		return wrap("consume device authorization", err)
	}
	return nil
}

// A device grant's device code, consumed in IssueTokens' transaction (sso.Issue.ConsumeDevice):
// the compare-and-set of ConsumeDeviceAuthorization ($1 consumed, $2 hash, $3 client, $4
// approved, $5 now) that also does not consume an authorization approved in a session that
// has ended: the one writer ran the end before, or runs it after, and then revokes the grant
// this one writes, as for a code (consumeCodeQuery). An approval that names a session needs it
// held, not ended and not expired: the purge deletes an ended session within the minute
// (review s22 X-1), and an expired one is held until then. deviceStateQuery ($1 hash, $2
// client, $3 now) says why it changed nothing.
const (
	consumeDeviceQuery = `UPDATE device_authorizations SET state = ?1
		WHERE device_code_hash = ?2 AND client_id = ?3 AND state = ?4 AND expires_at > ?5
		AND ` + deviceSessionLivePrefix + `?5))`
	deviceStateQuery = `SELECT state, expires_at, NOT ` + deviceSessionLivePrefix + `?3)) _
		FROM device_authorizations WHERE device_code_hash = ?1 AND client_id = ?2`
	// deviceSessionLivePrefix, completed with now's parameter and "))", holds for an
	// authorization that names no session or names one the store holds, has not ended and
	// has not expired at now.
	deviceSessionLivePrefix = `(device_authorizations.session_id = '' OR EXISTS (SELECT 1 FROM sessions s
		WHERE s.id = device_authorizations.session_id AND s.ended = 0 AND s.expires_at > `
)

// deviceStatus is what deviceStateQuery reads of a device authorization that was not consumed.
type deviceStatus struct {
	state        string
	expires      int64
	sessionEnded bool
}

// consumeDevice consumes the device authorization c names (consumeDeviceQuery); when that
// changes nothing, its state says why: ErrSessionEnded (approved, unexpired, its session
// ended), else ErrNotFound.
func consumeDevice(ctx context.Context, x issueStmts, c *sso.DeviceConsumption, now int64) error {
	switch n, err := x.consumeDevice(ctx, c.DeviceCodeHash, c.ClientID, now); {
	case err != nil:
		return fmt.Errorf("consume device authorization: %w", err)
	case n != 0:
		return nil
	}
	st, found, err := x.deviceState(ctx, c.DeviceCodeHash, c.ClientID, now)
	switch {
	case err != nil: // first: the driver path reports found false with its error
		return fmt.Errorf("consume device authorization: %w", err)
	case found && st.state == string(sso.DeviceApproved) && st.expires > now && st.sessionEnded:
		return fmt.Errorf("consume device authorization: %w", sso.ErrSessionEnded)
	default:
		return fmt.Errorf("consume device authorization: %w", sso.ErrNotFound)
	}
}

func (r txRotation) consumeDevice(ctx context.Context, hash, clientID string, now int64) (int64, error) {
	res, err := r.tx.ExecContext(ctx, consumeDeviceQuery, string(sso.DeviceConsumed), hash, clientID, string(sso.DeviceApproved), now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (r txRotation) deviceState(ctx context.Context, hash, clientID string, now int64) (deviceStatus, bool, error) {
	var st deviceStatus
	err := r.tx.QueryRowContext(ctx, deviceStateQuery, hash, clientID, now).Scan(&st.state, &st.expires, &st.sessionEnded)
	if errors.Is(err, sql.ErrNoRows) {
		return deviceStatus{}, false, nil
	}
	return st, err == nil, err
}

// consumeDevice runs the device code's compare-and-set (consumeDeviceQuery) and returns how
// many rows it changed.
func (rc *rawConn) consumeDevice(ctx context.Context, hash, clientID string, now int64) (int64, error) {
	res, err := rc.execArgs(ctx, rc.consumeDeviceStmt, string(sso.DeviceConsumed), hash, clientID, string(sso.DeviceApproved), now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// deviceState reads a device authorization's state (deviceStateQuery); found is false when
// there is no such authorization of that client.
func (rc *rawConn) deviceState(ctx context.Context, hash, clientID string, now int64) (st deviceStatus, found bool, err error) {
	rc.args[0].Value, rc.args[1].Value, rc.args[2].Value = hash, clientID, now
	row, found, err := rc.queryRow(ctx, rc.deviceStateStmt, 3)
	if !found || err != nil {
		return deviceStatus{}, false, err
	}
	defer clear(row)
	if err := row.Scan(&st.state, &st.expires, &st.sessionEnded); err != nil {
		return deviceStatus{}, true, fmt.Errorf("device state: %w", err)
	}
	return st, true, nil
}

// PurgeDeviceAuthorizations deletes authorizations that expired before before.
func (s *Store) PurgeDeviceAuthorizations(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.wexec(ctx, `DELETE FROM device_authorizations WHERE rowid IN
			(SELECT rowid FROM device_authorizations WHERE expires_at <= ? LIMIT ?)`, ts(before), purgeBatch)
		if err != nil {
			return total, wrap("purge device authorizations", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, wrap("purge device authorizations", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}
