package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/sso"
)

// familyCols are a family's columns in scanFamily's order, read from familyFrom (its state f
// and its grant g).
const (
	familyCols = `f.family_id, f.token_hash, f.generation, g.client_id, g.subject, g.audience, g.scopes, g.session_id,
	g.auth_time, g.amr, g.created_at, f.expires_at, f.rotated_at, f.revoked`
	familyFrom = `families f JOIN family_grants g ON g.family_id = f.family_id`
)

func scanFamily(row pgx.Row) (*sso.RefreshToken, error) {
	var (
		t                                         sso.RefreshToken
		aud, scopes, amr                          string
		authTime, createdAt, expiresAt, rotatedAt int64
	)
	err := row.Scan(&t.FamilyID, &t.Hash, &t.Generation, &t.ClientID, &t.Subject, &aud, &scopes, &t.SessionID,
		&authTime, &amr, &createdAt, &expiresAt, &rotatedAt, &t.Revoked)
	if err != nil {
		return nil, err
	}
	if err := decLists(listCol{&t.Audience, aud}, listCol{&t.Scopes, scopes}, listCol{&t.AMR, amr}); err != nil {
		return nil, err
	}
	t.AuthTime, t.CreatedAt, t.ExpiresAt, t.RotatedAt = tm(authTime), tm(createdAt), tm(expiresAt), tm(rotatedAt)
	return &t, nil
}

// rotateSQL is the compare-and-set of a rotation: the family moves on only from the generation
// and token the caller presented. Under READ COMMITTED a concurrent rotation of the same family
// makes this statement wait for the row lock and then re-check the WHERE clause against the
// committed row, so of two rotations from one generation exactly one changes the row.
const rotateSQL = `UPDATE families SET generation = generation + 1, token_hash = $1, rotated_at = $2
	WHERE family_id = $3 AND generation = $4 AND token_hash = $5 AND token_hash <> '' AND NOT revoked AND expires_at > $6`

// IssueTokens applies one token grant atomically: consume the code or the device code, then insert a new family or
// rotate one in place (sso.Issue, sso.Rotation). ErrRefreshReused is returned after the family
// revocation has been committed.
func (s *Store) IssueTokens(ctx context.Context, in sso.Issue) error {
	if in.Family != nil && in.Family.FamilyID == "" {
		return errors.New("postgres: issue tokens: family without id")
	}
	now := s.clock()
	// A refresh grant is one statement when the compare-and-set succeeds (the common case): no
	// transaction round trips. Anything else takes the transaction below.
	if rot := in.Rotate; rot != nil && in.ConsumeCodeHash == "" && in.Family == nil {
		at := orNow(rot.Now, now)
		err := execOne(ctx, s.pool, rotateSQL, rot.NewHash, ts(at), rot.FamilyID, rot.Generation, rot.OldHash, ts(at))
		if err == nil {
			return nil
		}
		if !isNoRows(err) {
			return wrap("issue tokens: rotate", err)
		}
	}
	if in.Rotate == nil && in.ConsumeDevice == nil {
		return s.issueOne(ctx, in, now)
	}
	var reused bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if in.ConsumeCodeHash != "" {
			if err := consumeCode(ctx, tx, &in, ts(now)); err != nil {
				return err
			}
		}
		if c := in.ConsumeDevice; c != nil {
			if err := consumeDevice(ctx, tx, c, ts(orNow(c.Now, now))); err != nil {
				return err
			}
		}
		if rot := in.Rotate; rot != nil {
			var err error
			if reused, err = applyRotation(ctx, tx, rot, orNow(rot.Now, now)); err != nil || reused {
				return err // a reuse commits the revocation and writes nothing else
			}
		}
		if f := in.Family; f != nil {
			if _, err := tx.Exec(ctx, insertFamilySQL, familyArgs(f, now)...); err != nil {
				return fmt.Errorf("insert family: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return wrap("issue tokens", err)
	}
	if reused {
		return fmt.Errorf("postgres: issue tokens: family %s: %w", in.Rotate.FamilyID, sso.ErrRefreshReused)
	}
	return nil
}

// consumeCodeSQL is the compare-and-set that marks a code consumed ($1 hash, $2 now), found by
// its hash; consumeCodeByRequestSQL finds it by its request ($3 id, sso.Issue's
// ConsumeCodeRequest: the primary key) holding that hash. Neither consumes the code of a
// session that has ended (sso.Issue): the session's row is read FOR SHARE, which waits for an
// end in progress (its UPDATE holds the row) and then reads it ended; an end that comes after
// waits for this statement's transaction, and then revokes the session-bound family it made.
// A request that names a session needs its row found, not ended and not expired at $2 (now):
// Purge deletes an ended session within the minute, an expired one is held until then, and a
// session no longer held is never one to bind a grant to (review s22 X-1); a request that
// names none (an empty id) is not refused for it.
const (
	codeSessionLive = ` AND COALESCE((SELECT NOT s.ended AND s.expires_at > $2 FROM sessions s WHERE s.id = auth_requests.session_id FOR SHARE),
		auth_requests.session_id = '')`
	consumeCodeSQL = `UPDATE auth_requests SET code_consumed = TRUE
	WHERE code_hash = $1 AND NOT code_consumed AND code_expires > $2` + codeSessionLive
	consumeCodeByRequestSQL = `UPDATE auth_requests SET code_consumed = TRUE
	WHERE id = $3 AND code_hash = $1 AND NOT code_consumed AND code_expires > $2` + codeSessionLive
)

// codeArgs are the arguments of in's code statements: its hash and now, and its request's id
// when in names it; byRequest tells which.
func codeArgs(in *sso.Issue, now int64) (args []any, byRequest bool) {
	if in.ConsumeCodeRequest != "" {
		return []any{in.ConsumeCodeHash, now, in.ConsumeCodeRequest}, true
	}
	return []any{in.ConsumeCodeHash, now}, false
}

// familyInsert inserts a family's state and grant from rows f of one column each ($ numbers
// from n: familyArgs' order).
func familyInsert(n int) string {
	p := func(i int, typ string) string { return fmt.Sprintf("$%d::%s", n+i, typ) }
	return `fs AS (INSERT INTO families (family_id, token_hash, generation, expires_at, rotated_at, revoked)
	SELECT ` + p(0, "text") + `, ` + p(1, "text") + `, ` + p(2, "bigint") + `, ` + p(11, "bigint") + `, ` + p(12, "bigint") + `, ` + p(13, "boolean") + ` FROM f),
fg AS (INSERT INTO family_grants (family_id, client_id, subject, audience, scopes, session_id, auth_time, amr, created_at)
	SELECT ` + p(0, "text") + `, ` + p(3, "text") + `, ` + p(4, "text") + `, ` + p(5, "text") + `, ` + p(6, "text") + `, ` + p(7, "text") + `, ` + p(8, "bigint") + `, ` + p(9, "text") + `, ` + p(10, "bigint") + ` FROM f)`
}

// insertFamilySQL inserts a family, its state and its grant, in one statement ($1-$14:
// familyArgs).
var insertFamilySQL = `WITH f AS (SELECT), ` + familyInsert(1) + `
SELECT`

// redeemCodeSQL is a code exchange in one statement: consume the code ($1 hash, $2 now;
// compare-and-set) and insert the new family ($3-$16: familyCols) only when the code was
// consumed here. The statement is atomic on its own (autocommit): a failed insert (the family
// id exists) leaves the code unconsumed, as the transaction of two statements did, in one round
// trip instead of four. At READ COMMITTED the UPDATE in the CTE waits for a concurrent exchange
// of the same code and re-checks its WHERE clause against the committed row, so the code is
// redeemed once.
var redeemCodeSQL = `WITH c AS (` + consumeCodeSQL + ` RETURNING 1), f AS (SELECT FROM c),
` + familyInsert(3) + `
SELECT EXISTS (SELECT FROM c)`

// redeemCodeByRequestSQL is redeemCodeSQL with the code found by its request ($3 id; the
// family $4-$17).
var redeemCodeByRequestSQL = `WITH c AS (` + consumeCodeByRequestSQL + ` RETURNING 1), f AS (SELECT FROM c),
` + familyInsert(4) + `
SELECT EXISTS (SELECT FROM c)`

// familyArgs are a new family's column values (in familyCols' order).
func familyArgs(f *sso.RefreshToken, now time.Time) []any {
	return []any{f.FamilyID, f.Hash, f.Generation, f.ClientID, f.Subject, encList(f.Audience), encList(f.Scopes),
		f.SessionID, ts(f.AuthTime), encList(f.AMR), ts(orNow(f.CreatedAt, now)), ts(f.ExpiresAt),
		ts(f.RotatedAt), f.Revoked}
}

// issueOne applies a grant without a rotation in one statement (autocommit): consume the code
// and insert the family (redeemCodeSQL), or only one of them.
func (s *Store) issueOne(ctx context.Context, in sso.Issue, now time.Time) error {
	var err error
	switch {
	case in.ConsumeCodeHash != "" && in.Family != nil:
		var consumed bool
		args, byRequest := codeArgs(&in, ts(now))
		q := redeemCodeSQL
		if byRequest {
			q = redeemCodeByRequestSQL
		}
		if err = s.pool.QueryRow(ctx, q, append(args, familyArgs(in.Family, now)...)...).Scan(&consumed); err == nil && !consumed {
			err = codeState(ctx, s.pool, &in, ts(now))
		}
	case in.ConsumeCodeHash != "":
		err = consumeCode(ctx, s.pool, &in, ts(now))
	case in.Family != nil:
		if _, err = s.pool.Exec(ctx, insertFamilySQL, familyArgs(in.Family, now)...); err != nil {
			err = fmt.Errorf("insert family: %w", err)
		}
	}
	return wrap("issue tokens", err)
}

// consumeCode marks the code consumed (compare-and-set), or says why it cannot be.
func consumeCode(ctx context.Context, q querier, in *sso.Issue, now int64) error {
	args, byRequest := codeArgs(in, now)
	stmt := consumeCodeSQL
	if byRequest {
		stmt = consumeCodeByRequestSQL
	}
	err := execOne(ctx, q, stmt, args...)
	if err == nil {
		return nil
	}
	if !isNoRows(err) {
		return fmt.Errorf("consume code: %w", err)
	}
	return codeState(ctx, q, in, now)
}

// codeState says why a code could not be consumed: unknown or expired (ErrNotFound), consumed
// already (ErrCodeConsumed), or its session ended, expired or is no longer held
// (ErrSessionEnded). Under
// READ COMMITTED it is a new statement that sees what committed before it, a concurrent winner
// included.
func codeState(ctx context.Context, q querier, in *sso.Issue, now int64) error {
	var (
		consumed, ended bool
		expires         int64
	)
	const cols = `code_consumed, code_expires,
		COALESCE((SELECT s.ended OR s.expires_at <= $1 FROM sessions s WHERE s.id = auth_requests.session_id), auth_requests.session_id <> '')`
	var row pgx.Row
	if in.ConsumeCodeRequest != "" {
		row = q.QueryRow(ctx, `SELECT `+cols+` FROM auth_requests WHERE id = $2 AND code_hash = $3`,
			now, in.ConsumeCodeRequest, in.ConsumeCodeHash)
	} else {
		row = q.QueryRow(ctx, `SELECT `+cols+` FROM auth_requests WHERE code_hash = $2`, now, in.ConsumeCodeHash)
	}
	err := row.Scan(&consumed, &expires, &ended)
	switch {
	case isNoRows(err) || (err == nil && expires <= now):
		return fmt.Errorf("consume code: %w", sso.ErrNotFound)
	case err != nil:
		return fmt.Errorf("consume code: %w", err)
	case !consumed && ended:
		return fmt.Errorf("consume code: %w", sso.ErrSessionEnded)
	default:
		return fmt.Errorf("consume code: %w", sso.ErrCodeConsumed)
	}
}

// applyRotation rotates a family in place with a compare-and-set on its generation and current
// hash; when that changes nothing, the family's state (read locked, FOR UPDATE) says why
// (sso.Rotation). It reports a reuse, after revoking the family in tx.
func applyRotation(ctx context.Context, tx pgx.Tx, rot *sso.Rotation, now time.Time) (reused bool, err error) {
	err = execOne(ctx, tx, rotateSQL, rot.NewHash, ts(now), rot.FamilyID, rot.Generation, rot.OldHash, ts(now))
	if err == nil {
		return false, nil
	} else if !isNoRows(err) {
		return false, fmt.Errorf("rotate: %w", err)
	}
	var (
		gen, expiresAt, rotatedAt int64
		revoked                   bool
		hash                      string
	)
	err = tx.QueryRow(ctx, `SELECT generation, token_hash, expires_at, rotated_at, revoked FROM families
		WHERE family_id = $1 FOR UPDATE`, rot.FamilyID).Scan(&gen, &hash, &expiresAt, &rotatedAt, &revoked)
	switch {
	case isNoRows(err):
		return false, fmt.Errorf("rotate: %w", sso.ErrNotFound)
	case err != nil:
		return false, fmt.Errorf("rotate: %w", err)
	case expiresAt <= ts(now):
		return false, fmt.Errorf("rotate: %w", sso.ErrNotFound)
	case revoked:
		return false, fmt.Errorf("rotate: %w", sso.ErrTokenRevoked)
	case gen == rot.Generation+1 && hash == rot.NewHash && rot.Grace > 0 && ts(now)-rotatedAt <= int64(rot.Grace):
		return false, nil // a concurrent retry of the same rotation: the family is there already
	case gen > rot.Generation:
		// Reuse of a rotated token: kill the family, and make that stick.
		if _, err := tx.Exec(ctx, `UPDATE families SET revoked = TRUE WHERE family_id = $1 AND NOT revoked`, rot.FamilyID); err != nil {
			return false, fmt.Errorf("revoke reused family: %w", err)
		}
		return true, nil
	}
	return false, fmt.Errorf("rotate: %w", sso.ErrNotFound)
}

// Family returns a family by id whatever its state; ErrNotFound when unknown or expired.
func (s *Store) Family(ctx context.Context, familyID string) (*sso.RefreshToken, error) {
	t, err := scanFamily(s.pool.QueryRow(ctx, `SELECT `+familyCols+` FROM `+familyFrom+`
		WHERE f.family_id = $1 AND f.expires_at > $2`, familyID, ts(s.clock())))
	if err != nil {
		return nil, wrap("family", err)
	}
	return t, nil
}

// LegacyRefreshToken returns the family whose generation-0 token was issued before families
// named themselves in their tokens (SQLite schema 10, carried over by `store copy`);
// ErrNotFound when unknown or expired.
func (s *Store) LegacyRefreshToken(ctx context.Context, hash string) (*sso.RefreshToken, error) {
	t, err := scanFamily(s.pool.QueryRow(ctx, `SELECT `+familyCols+` FROM `+familyFrom+` WHERE f.family_id =
		(SELECT family_id FROM legacy_refresh_tokens WHERE hash = $1) AND f.expires_at > $2`, hash, ts(s.clock())))
	if err != nil {
		return nil, wrap("legacy refresh token", err)
	}
	return t, nil
}

// RevokeAccessToken records one access token revoked until expiresAt (idempotent; unknown ids
// are not an error, as token revocation must not reveal whether a token exists).
func (s *Store) RevokeAccessToken(ctx context.Context, idHash string, expiresAt time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO revoked_access_tokens (id_hash, expires_at) VALUES ($1, $2)
		ON CONFLICT (id_hash) DO UPDATE SET expires_at = GREATEST(revoked_access_tokens.expires_at, excluded.expires_at)`,
		idHash, ts(expiresAt))
	return wrap("revoke access token", err)
}

// AccessTokenRevoked tells whether RevokeAccessToken recorded idHash (and it has not expired).
func (s *Store) AccessTokenRevoked(ctx context.Context, idHash string) (bool, error) {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM revoked_access_tokens WHERE id_hash = $1 AND expires_at > $2`,
		idHash, ts(s.clock())).Scan(&one)
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
		return errors.New("postgres: revoke family: empty family id")
	}
	_, err := s.pool.Exec(ctx, `UPDATE families SET revoked = TRUE WHERE family_id = $1 AND NOT revoked`, familyID)
	return wrap("revoke family", err)
}

// grantWhere is the condition on family_grants selecting a subject's families (for one client
// when not empty), its parameters numbered from $1.
func grantWhere(subject, clientID string) (string, []any) {
	if subject == "" {
		return "client_id = $1", []any{clientID}
	}
	if clientID != "" {
		return "subject = $1 AND client_id = $2", []any{subject, clientID}
	}
	return "subject = $1", []any{subject}
}

// revokeGrants revokes every family of a subject (for one client when clientID is not empty), or
// of a client when subject is empty.
func revokeGrants(ctx context.Context, q querier, subject, clientID string) error {
	where, args := grantWhere(subject, clientID)
	_, err := q.Exec(ctx, `UPDATE families SET revoked = TRUE
		WHERE family_id IN (SELECT family_id FROM family_grants WHERE `+where+`) AND NOT revoked`, args...)
	return err
}

// RevokeGrants revokes every family of a subject (for one client when clientID is not empty), or
// every family of a client when subject is empty, and returns how many live families with a
// refresh token it revoked.
func (s *Store) RevokeGrants(ctx context.Context, subject, clientID string) (int, error) {
	if subject == "" && clientID == "" {
		return 0, errors.New("postgres: revoke grants: neither subject nor client")
	}
	var families int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		families, err = revokeGrantsCounted(ctx, tx, subject, clientID, s.clock())
		return err
	})
	if err != nil {
		return 0, wrap("revoke grants", err)
	}
	return families, nil
}

// revokeGrantsCounted closes the pending grants (closePendingGrants) and then revokes the
// families, returning how many of the families it revoked were live (not expired at now) with a
// refresh token: what RevokeGrants and DeleteClientCounted say. In that order (review s23 X-2):
// under READ COMMITTED each statement reads its own snapshot, and an exchange whose
// compare-and-set ran but had not committed when the revocation began was missed the other way
// round (the families' statement did not see its family; the codes' statement then waited for
// the exchange's lock and skipped the code it had consumed). Now the codes' statement waits for
// the exchange and the families' statement, later, sees its family; an exchange that comes
// after the codes' statement waits for the revocation's lock and finds its code closed.
func revokeGrantsCounted(ctx context.Context, q querier, subject, clientID string, now time.Time) (int, error) {
	if err := closePendingGrants(ctx, q, subject, clientID); err != nil {
		return 0, err
	}
	where, args := grantWhere(subject, clientID)
	var families int
	err := q.QueryRow(ctx, `WITH r AS (UPDATE families SET revoked = TRUE
		WHERE family_id IN (SELECT family_id FROM family_grants WHERE `+where+`) AND NOT revoked
		RETURNING token_hash, expires_at)
		SELECT COUNT(*) FROM r WHERE token_hash <> '' AND expires_at > $`+fmt.Sprint(len(args)+1),
		append(args, ts(now))...).Scan(&families)
	if err != nil {
		return 0, err
	}
	return families, nil
}

// closePendingGrants closes the grants of subject and/or client not yet redeemed (review s22
// an approved device authorization is denied (its next poll gets access_denied) and an
// unexchanged code is consumed (its exchange gets invalid_grant). One statement, so it commits
// with the families' revocation when q is the transaction that revokes them.
func closePendingGrants(ctx context.Context, q querier, subject, clientID string) error {
	stmt, args := closePendingGrantsSQL(subject, clientID)
	if _, err := q.Exec(ctx, stmt, args...); err != nil {
		return fmt.Errorf("close pending grants: %w", err)
	}
	return nil
}

// closePendingGrantsSQL is closePendingGrants' statement and its parameters. Its conditions
// imply the partial indexes' (auth_requests_coded, device_authorizations_approved, migration 23),
// written in rather than bound so that a generic plan can use them: a subject's search reads
// its few coded requests and approved devices instead of every row of both tables (session 23,
// left by s22 H3).
func closePendingGrantsSQL(subject, clientID string) (string, []any) {
	where, args := grantWhere(subject, clientID) // the families' filter: the same columns
	return `WITH d AS (UPDATE device_authorizations SET state = '` + string(sso.DeviceDenied) + `'
		WHERE state = '` + string(sso.DeviceApproved) + `' AND ` + where + ` RETURNING 1)
		UPDATE auth_requests SET code_consumed = TRUE
		WHERE code_hash IS NOT NULL AND code_hash <> '' AND done AND NOT code_consumed AND ` + where, args
}

// SignOutOfClient takes clientID out of every live session of subject and revokes the member's
// grants there, pending ones included, in one transaction (store.SessionStore). Read committed:
// a sign-in into the client committed before the first statement is taken out and its code
// consumed; one committed between them stays listed (its code may be consumed); one committed
// after keeps its grant and stays listed.
func (s *Store) SignOutOfClient(ctx context.Context, subject, clientID string) (left, families int, err error) {
	if subject == "" || clientID == "" {
		return 0, 0, errors.New("postgres: sign out of client: empty subject or client")
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
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
		WHERE NOT f.revoked AND f.token_hash <> '' AND f.expires_at > $1`)
	if subject != "" {
		args = append(args, subject)
		fmt.Fprintf(&q, ` AND g.subject = $%d`, len(args))
	}
	if clientID != "" {
		args = append(args, clientID)
		fmt.Fprintf(&q, ` AND g.client_id = $%d`, len(args))
	}
	q.WriteString(` ORDER BY g.created_at, f.family_id COLLATE "C"`)
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap("list refresh tokens", err)
	}
	out, err := collect(rows, scanFamily)
	return out, wrap("list refresh tokens", err)
}

// collect scans every row with scan and closes rows.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
