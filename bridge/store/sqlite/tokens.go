package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ssobridge/ssobridge/sso"
)

func scanAccessToken(row scanner) (*sso.AccessToken, error) {
	var (
		t                                       sso.AccessToken
		aud, scopes, amr                        string
		authTime, createdAt, expiresAt, revoked int64
	)
	err := row.Scan(&t.IDHash, &t.ClientID, &t.Subject, &aud, &scopes, &t.FamilyID, &t.SessionID,
		&authTime, &amr, &createdAt, &expiresAt, &revoked)
	if err != nil {
		return nil, err
	}
	if err := decLists(listCol{&t.Audience, aud}, listCol{&t.Scopes, scopes}, listCol{&t.AMR, amr}); err != nil {
		return nil, err
	}
	t.AuthTime, t.CreatedAt, t.ExpiresAt, t.Revoked = tm(authTime), tm(createdAt), tm(expiresAt), revoked != 0
	return &t, nil
}

func scanRefreshToken(row scanner) (*sso.RefreshToken, error) {
	var (
		t                                                  sso.RefreshToken
		aud, scopes, amr                                   string
		authTime, createdAt, expiresAt, rotatedAt, revoked int64
	)
	err := row.Scan(&t.Hash, &t.FamilyID, &t.ClientID, &t.Subject, &aud, &scopes, &t.SessionID,
		&authTime, &amr, &createdAt, &expiresAt, &rotatedAt, &t.SuccessorHash, &revoked)
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

// consumeCode marks the code consumed, or says why it cannot be.
func (s *Store) consumeCode(ctx context.Context, tx *sql.Tx, hash string, now int64) error {
	res, err := tx.StmtContext(ctx, s.st.consumeCode).ExecContext(ctx, hash, now)
	err = affectedOne(res, err)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("consume code: %w", err)
	}
	var consumed, expires int64
	err = tx.StmtContext(ctx, s.st.codeState).QueryRowContext(ctx, hash).Scan(&consumed, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && expires <= now):
		return fmt.Errorf("consume code: %w", sso.ErrNotFound)
	case err != nil:
		return fmt.Errorf("consume code: %w", err)
	default:
		return fmt.Errorf("consume code: %w", sso.ErrCodeConsumed)
	}
}

// addFamily records that a token of (familyID, subject, clientID) is stored, so that revokeFamily
// finds it through the token tables' (subject, client_id, family_id) index. A rotation finds its
// row already there: a read, no write.
func (s *Store) addFamily(ctx context.Context, tx *sql.Tx, familyID, subject, clientID string) error {
	if familyID == "" {
		return nil
	}
	_, err := tx.StmtContext(ctx, s.st.addFamily).ExecContext(ctx, familyID, subject, clientID)
	return err
}

// revokeFamily revokes every refresh and access token whose family_id is familyID.
func (s *Store) revokeFamily(ctx context.Context, tx *sql.Tx, familyID string) error {
	rows, err := tx.StmtContext(ctx, s.st.familyGrants).QueryContext(ctx, familyID)
	if err != nil {
		return err
	}
	var pairs [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			rows.Close()
			return err
		}
		pairs = append(pairs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range pairs {
		if _, err := tx.StmtContext(ctx, s.st.revokeFamilyRefresh).ExecContext(ctx, p[0], p[1], familyID); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.st.revokeFamilyAccess).ExecContext(ctx, p[0], p[1], familyID); err != nil {
			return err
		}
	}
	return nil
}

// AccessToken returns the token by id hash; ErrNotFound when unknown or expired, ErrTokenRevoked
// when revoked.
func (s *Store) AccessToken(ctx context.Context, idHash string) (*sso.AccessToken, error) {
	t, err := scanAccessToken(s.st.accessToken.QueryRowContext(ctx, idHash, ts(s.clock())))
	if err != nil {
		return nil, wrap("access token", err)
	}
	if t.Revoked {
		return nil, fmt.Errorf("sqlite: access token: %w", sso.ErrTokenRevoked)
	}
	return t, nil
}

// RefreshToken returns the token by hash whatever its state; ErrNotFound when unknown or expired.
func (s *Store) RefreshToken(ctx context.Context, hash string) (*sso.RefreshToken, error) {
	t, err := scanRefreshToken(s.st.refreshToken.QueryRowContext(ctx, hash, ts(s.clock())))
	if err != nil {
		return nil, wrap("refresh token", err)
	}
	return t, nil
}

// RevokeAccessToken revokes one access token (idempotent; unknown ids are not an error, as token
// revocation must not reveal whether a token exists).
func (s *Store) RevokeAccessToken(ctx context.Context, idHash string) error {
	_, err := s.w.ExecContext(ctx, `UPDATE access_tokens SET revoked = 1 WHERE id_hash = ? AND revoked = 0`, idHash)
	return wrap("revoke access token", err)
}

// RevokeFamily revokes every refresh token of the family and the access tokens issued with it.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	if familyID == "" {
		return errors.New("sqlite: revoke family: empty family id")
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error { return s.revokeFamily(ctx, tx, familyID) })
	return wrap("revoke family", err)
}

// RevokeGrants revokes every refresh and access token of a subject (for one client when clientID
// is not empty) and returns how many live refresh-token families it revoked.
func (s *Store) RevokeGrants(ctx context.Context, subject, clientID string) (int, error) {
	if subject == "" {
		return 0, errors.New("sqlite: revoke grants: empty subject")
	}
	var families int
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		where, args := "subject = ?", []any{subject}
		if clientID != "" {
			where, args = where+" AND client_id = ?", append(args, clientID)
		}
		err := tx.QueryRowContext(ctx, `SELECT COUNT(DISTINCT family_id) FROM refresh_tokens
			WHERE `+where+` AND revoked = 0 AND expires_at > ?`, append(args, ts(s.clock()))...).Scan(&families)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked = 1 WHERE `+where+` AND revoked = 0`, args...); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE access_tokens SET revoked = 1 WHERE `+where+` AND revoked = 0`, args...)
		return err
	})
	if err != nil {
		return 0, wrap("revoke grants", err)
	}
	return families, nil
}

// ListRefreshTokens lists the live current refresh tokens (one per live family), oldest first,
// filtered by subject and/or client when not empty.
func (s *Store) ListRefreshTokens(ctx context.Context, subject, clientID string) ([]*sso.RefreshToken, error) {
	var (
		q    strings.Builder
		args = []any{ts(s.clock())}
	)
	q.WriteString(`SELECT ` + refreshTokenCols + ` FROM refresh_tokens
		WHERE revoked = 0 AND rotated_at = 0 AND expires_at > ?`)
	if subject != "" {
		q.WriteString(` AND subject = ?`)
		args = append(args, subject)
	}
	if clientID != "" {
		q.WriteString(` AND client_id = ?`)
		args = append(args, clientID)
	}
	q.WriteString(` ORDER BY created_at, hash`)
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap("list refresh tokens", err)
	}
	defer rows.Close()
	var out []*sso.RefreshToken
	for rows.Next() {
		t, err := scanRefreshToken(rows)
		if err != nil {
			return nil, wrap("list refresh tokens", err)
		}
		out = append(out, t)
	}
	return out, wrap("list refresh tokens", rows.Err())
}
