package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

func scanFamily(row scanner) (*sso.RefreshToken, error) {
	var (
		t                                                  sso.RefreshToken
		aud, scopes, amr                                   string
		authTime, createdAt, expiresAt, rotatedAt, revoked int64
	)
	err := row.Scan(&t.FamilyID, &t.Hash, &t.Generation, &t.ClientID, &t.Subject, &aud, &scopes, &t.SessionID,
		&authTime, &amr, &createdAt, &expiresAt, &rotatedAt, &revoked)
	if err != nil {
		return nil, err
	}
	if err := decLists(listCol{&t.Audience, aud}, listCol{&t.Scopes, scopes}, listCol{&t.AMR, amr}); err != nil {
		return nil, err
	}
	t.AuthTime, t.CreatedAt, t.ExpiresAt = tm(authTime), tm(createdAt), tm(expiresAt)
	t.RotatedAt, t.Revoked = tm(rotatedAt), revoked != 0
	return &t, nil
}

// Family returns a family by id whatever its state; ErrNotFound when unknown or expired.
// It reads on the write connection's driver connection when that is free (readOnWriter), else
// on the read pool.
func (s *Store) Family(ctx context.Context, familyID string) (*sso.RefreshToken, error) {
	now := ts(s.clock())
	t, ran, err := readOnWriter(ctx, s, func(ctx context.Context, rc *rawConn) (*sso.RefreshToken, error) {
		return rc.family(ctx, familyID, now)
	})
	if !ran {
		t, err = readRow(ctx, s, s.st.family, scanFamily, familyID, now)
	}
	if err != nil {
		return nil, wrap("family", err)
	}
	return t, nil
}

// LegacyRefreshToken returns the family whose generation-0 token, issued before schema version
// 10, hashes to hash; ErrNotFound when unknown or expired.
func (s *Store) LegacyRefreshToken(ctx context.Context, hash string) (*sso.RefreshToken, error) {
	t, err := readRow(ctx, s, s.st.legacyRefresh, scanFamily, hash, ts(s.clock()))
	if err != nil {
		return nil, wrap("legacy refresh token", err)
	}
	return t, nil
}

// RevokeAccessToken records one access token revoked until expiresAt (idempotent; unknown ids
// are not an error, as token revocation must not reveal whether a token exists).
func (s *Store) RevokeAccessToken(ctx context.Context, idHash string, expiresAt time.Time) error {
	_, err := s.wexec(ctx, `INSERT INTO revoked_access_tokens (id_hash, expires_at) VALUES (?, ?)
		ON CONFLICT (id_hash) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)`, idHash, ts(expiresAt))
	return wrap("revoke access token", err)
}

// AccessTokenRevoked tells whether RevokeAccessToken recorded idHash (and it has not expired).
func (s *Store) AccessTokenRevoked(ctx context.Context, idHash string) (bool, error) {
	_, err := readRow(ctx, s, s.st.accessRevoked, func(r scanner) (int, error) {
		var one int
		return one, r.Scan(&one)
	}, idHash, ts(s.clock()))
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, wrap("access token revoked", err)
	}
	return true, nil
}

// RevokeFamily revokes a family (unknown ids are not an error).
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	if familyID == "" {
		return errors.New("sqlite: revoke family: empty family id")
	}
	_, err := s.wexecStmt(ctx, s.st.revokeFamily, familyID)
	return wrap("revoke family", err)
}

// grantWhere is the condition on family_grants (alias g) selecting a subject's families, for one
// client when not empty.
func grantWhere(subject, clientID string) (string, []any) {
	switch {
	case subject == "":
		return "g.client_id = ?", []any{clientID}
	case clientID != "":
		return "g.subject = ? AND g.client_id = ?", []any{subject, clientID}
	}
	return "g.subject = ?", []any{subject}
}

// revokeGrants revokes every family of a subject (for one client when clientID is not empty), or
// of a client when subject is empty.
func revokeGrants(ctx context.Context, tx *sql.Tx, subject, clientID string) error {
	where, args := grantWhere(subject, clientID)
	_, err := tx.ExecContext(ctx, `UPDATE families SET revoked = 1
		WHERE family_id IN (SELECT g.family_id FROM family_grants g WHERE `+where+`) AND revoked = 0`, args...)
	return err
}

// revokeGrantsCounted is revokeGrants, returning how many of the families it revoked were live
// (not expired at now) with a refresh token: what RevokeGrants and DeleteClientCounted say.
func revokeGrantsCounted(ctx context.Context, tx *sql.Tx, subject, clientID string, now time.Time) (int, error) {
	where, args := grantWhere(subject, clientID)
	var families int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+familyFrom+`
		WHERE `+where+` AND f.revoked = 0 AND f.token_hash <> '' AND f.expires_at > ?`, append(args, ts(now))...).Scan(&families); err != nil {
		return 0, err
	}
	if err := revokeGrants(ctx, tx, subject, clientID); err != nil {
		return 0, err
	}
	return families, closePendingGrants(ctx, tx, subject, clientID)
}

// closePendingGrants closes, with the families, the grants of subject and/or client not yet
// redeemed (review s22 X-3): an approved device authorization is denied (its next poll gets
// access_denied) and an unexchanged code is consumed (its exchange gets invalid_grant).
func closePendingGrants(ctx context.Context, tx *sql.Tx, subject, clientID string) error {
	where, args := pendingWhere(subject, clientID)
	if _, err := tx.ExecContext(ctx, denyApprovedDevices+where, args...); err != nil {
		return fmt.Errorf("close device authorizations: %w", err)
	}
	if _, err := tx.ExecContext(ctx, consumeUnexchangedCodes+where, args...); err != nil {
		return fmt.Errorf("consume codes: %w", err)
	}
	return nil
}

// denyApprovedDevices and consumeUnexchangedCodes are closePendingGrants' statements, followed by
// pendingWhere's filter. Their conditions are the partial indexes' (device_authorizations_approved,
// auth_requests_unexchanged, migration 33), written in rather than bound so that the planner
// can match them: a subject's search reads the few rows that can still be redeemed instead of
// every row of both tables under the one writer (session 23).
const (
	denyApprovedDevices = `UPDATE device_authorizations SET state = '` + string(sso.DeviceDenied) + `'
		WHERE state = '` + string(sso.DeviceApproved) + `'`
	consumeUnexchangedCodes = `UPDATE auth_requests SET code_consumed = 1
		WHERE code_consumed = 0 AND code_hash IS NOT NULL AND done = 1 AND code_hash <> ''`
)

// pendingWhere is the filter of closePendingGrants' statements: subject and/or client.
func pendingWhere(subject, clientID string) (string, []any) {
	var (
		where string
		args  []any
	)
	if subject != "" {
		where, args = ` AND subject = ?`, append(args, subject)
	}
	if clientID != "" {
		where, args = where+` AND client_id = ?`, append(args, clientID)
	}
	return where, args
}

// RevokeGrants revokes every family of a subject (for one client when clientID is not empty), or
// every family of a client when subject is empty, and returns how many live families with a
// refresh token it revoked.
func (s *Store) RevokeGrants(ctx context.Context, subject, clientID string) (int, error) {
	if subject == "" && clientID == "" {
		return 0, errors.New("sqlite: revoke grants: neither subject nor client")
	}
	var families int
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		families, err = revokeGrantsCounted(ctx, tx, subject, clientID, s.clock())
		return err
	})
	if err != nil {
		return 0, wrap("revoke grants", err)
	}
	return families, nil
}

// SignOutOfClient takes clientID out of every live session of subject and revokes the member's
// grants there, pending ones included, in one write transaction (store.SessionStore).
func (s *Store) SignOutOfClient(ctx context.Context, subject, clientID string) (left, families int, err error) {
	if subject == "" || clientID == "" {
		return 0, 0, errors.New("sqlite: sign out of client: empty subject or client")
	}
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := s.clock()
		if err := execCount(ctx, tx, &left, leaveClientSQL, clientID, subject, ts(now)); err != nil {
			return fmt.Errorf("leave client: %w", err)
		}
		var err error
		families, err = revokeGrantsCounted(ctx, tx, subject, clientID, now)
		return err
	})
	if err != nil {
		return 0, 0, wrap("sign out of client", err)
	}
	return left, families, nil
}

// ListRefreshTokens lists the live families with a refresh token, oldest first, filtered by
// subject and/or client when not empty.
func (s *Store) ListRefreshTokens(ctx context.Context, subject, clientID string) ([]*sso.RefreshToken, error) {
	var (
		q    strings.Builder
		args = []any{ts(s.clock())}
	)
	q.WriteString(`SELECT ` + familyCols + ` FROM ` + familyFrom + `
		WHERE f.revoked = 0 AND f.token_hash <> '' AND f.expires_at > ?`)
	if subject != "" {
		q.WriteString(` AND g.subject = ?`)
		args = append(args, subject)
	}
	if clientID != "" {
		q.WriteString(` AND g.client_id = ?`)
		args = append(args, clientID)
	}
	q.WriteString(` ORDER BY g.created_at, f.family_id`)
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap("list refresh tokens", err)
	}
	defer rows.Close()
	var out []*sso.RefreshToken
	for rows.Next() {
		t, err := scanFamily(rows)
		if err != nil {
			return nil, wrap("list refresh tokens", err)
		}
		out = append(out, t)
	}
	return out, wrap("list refresh tokens", rows.Err())
}
