package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/sso"
)

const authRequestCols = `id, client_id, redirect_uri, state, nonce, scopes, response_type, response_mode,
	code_challenge, code_challenge_method, prompt, max_age, login_hint, ui_locales, created_at,
	expires_at, done, subject, auth_time, amr, session_id, COALESCE(code_hash, ''), code_expires,
	code_consumed, hint_subject, browser, acr_values, resources`

func scanAuthRequest(row pgx.Row) (*sso.AuthRequest, error) {
	var (
		r                                   sso.AuthRequest
		scopes, prompt, uiLocales, amr, acr string
		resources                           string
		maxAge                              *int64
		createdAt, expiresAt, authTime, cex int64
	)
	err := row.Scan(&r.ID, &r.ClientID, &r.RedirectURI, &r.State, &r.Nonce, &scopes, &r.ResponseType,
		&r.ResponseMode, &r.CodeChallenge, &r.CodeChallengeMethod, &prompt, &maxAge, &r.LoginHint,
		&uiLocales, &createdAt, &expiresAt, &r.Done, &r.Subject, &authTime, &amr, &r.SessionID,
		&r.CodeHash, &cex, &r.CodeConsumed, &r.HintSubject, &r.Browser, &acr, &resources)
	if err != nil {
		return nil, err
	}
	if err := decLists(listCol{&r.Scopes, scopes}, listCol{&r.Prompt, prompt}, listCol{&r.UILocales, uiLocales}, listCol{&r.AMR, amr}, listCol{&r.ACRValues, acr}, listCol{&r.Resources, resources}); err != nil {
		return nil, err
	}
	if maxAge != nil {
		d := time.Duration(*maxAge)
		r.MaxAge = &d
	}
	r.CreatedAt, r.ExpiresAt, r.AuthTime, r.CodeExpiresAt = tm(createdAt), tm(expiresAt), tm(authTime), tm(cex)
	return &r, nil
}

// CreateAuthRequest stores a new auth request; ErrConflict when the id exists. Code fields are
// ignored: a code is attached by SaveCode.
func (s *Store) CreateAuthRequest(ctx context.Context, r *sso.AuthRequest) error {
	if r == nil || r.ID == "" {
		return errors.New("postgres: create auth request: empty id")
	}
	var maxAge *int64
	if r.MaxAge != nil {
		v := int64(*r.MaxAge)
		maxAge = &v
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_requests (id, client_id, redirect_uri, state, nonce,
		scopes, response_type, response_mode, code_challenge, code_challenge_method, prompt, max_age,
		login_hint, ui_locales, created_at, expires_at, done, subject, auth_time, amr, session_id, hint_subject, browser,
		acr_values, resources)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		r.ID, r.ClientID, r.RedirectURI, r.State, r.Nonce,
		encList(r.Scopes), r.ResponseType, r.ResponseMode, r.CodeChallenge, r.CodeChallengeMethod,
		encList(r.Prompt), maxAge, r.LoginHint, encList(r.UILocales), ts(orNow(r.CreatedAt, s.clock())), ts(r.ExpiresAt),
		r.Done, r.Subject, ts(r.AuthTime), encList(r.AMR), r.SessionID, r.HintSubject, r.Browser, encList(r.ACRValues), encList(r.Resources))
	return wrap("create auth request", err)
}

// AuthRequest returns the request by id; ErrNotFound when unknown or expired.
func (s *Store) AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error) {
	r, err := scanAuthRequest(s.pool.QueryRow(ctx, `SELECT `+authRequestCols+` FROM auth_requests
		WHERE id = $1 AND expires_at > $2`, id, ts(s.clock())))
	if err != nil {
		return nil, wrap("auth request", err)
	}
	return r, nil
}

// ClaimAuthRequest binds a pending, unbound request to browser and returns it, in one statement
// (store.SignInStore); nil when it bound nothing.
func (s *Store) ClaimAuthRequest(ctx context.Context, id, browser string) (*sso.AuthRequest, error) {
	if browser == "" {
		return nil, errors.New("postgres: claim auth request: empty browser")
	}
	r, err := scanAuthRequest(s.pool.QueryRow(ctx, `UPDATE auth_requests SET browser = $1
		WHERE id = $2 AND NOT done AND browser = '' AND expires_at > $3 RETURNING `+authRequestCols, browser, id, ts(s.clock())))
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("claim auth request", err)
	}
	return r, nil
}

// BindAuthRequest binds a pending request to a browser, once (compare-and-set).
func (s *Store) BindAuthRequest(ctx context.Context, id, browser string) error {
	if browser == "" {
		return errors.New("postgres: bind auth request: empty browser")
	}
	err := execOne(ctx, s.pool, `UPDATE auth_requests SET browser = $1
		WHERE id = $2 AND NOT done AND browser = '' AND expires_at > $3`, browser, id, ts(s.clock()))
	if err != nil {
		if !isNoRows(err) {
			return wrap("bind auth request", err)
		}
		return s.authRequestState(ctx, "bind auth request", id, browser, true)
	}
	return nil
}

// CompleteAuthRequest moves a pending request bound to c.Browser to completed (compare-and-set).
func (s *Store) CompleteAuthRequest(ctx context.Context, id string, c sso.Completion) error {
	err := completeAuthRequest(ctx, s.pool, id, c, ts(s.clock()), "", time.Time{})
	if err != nil {
		if !isNoRows(err) {
			return wrap("complete auth request", err)
		}
		return s.authRequestState(ctx, "complete auth request", id, c.Browser, false)
	}
	return nil
}

// The completion's compare-and-set ($1-$7: subject, auth_time, amr, session_id, id, browser,
// now), and with the code's hash and expiry ($8, $9).
const (
	completeAuthRequestSet   = `UPDATE auth_requests SET done = TRUE, subject = $1, auth_time = $2, amr = $3, session_id = $4`
	completeAuthRequestWhere = ` WHERE id = $5 AND NOT done AND browser = $6 AND expires_at > $7`
	completeAuthRequestSQL   = completeAuthRequestSet + completeAuthRequestWhere
	completeWithCodeSQL      = completeAuthRequestSet + `, code_hash = $8, code_expires = $9, code_consumed = FALSE` +
		completeAuthRequestWhere
)

// completeAuthRequest is CompleteAuthRequest's compare-and-set on q (the pool, or CompleteSignIn's
// transaction), at now; it also saves the code when codeHash is not empty. pgx.ErrNoRows when
// it changed nothing.
func completeAuthRequest(ctx context.Context, q querier, id string, c sso.Completion, now int64, codeHash string, codeExpires time.Time) error {
	if codeHash == "" {
		return execOne(ctx, q, completeAuthRequestSQL, c.Subject, ts(c.AuthTime), encList(c.AMR), c.SessionID, id, c.Browser, now)
	}
	return execOne(ctx, q, completeWithCodeSQL, c.Subject, ts(c.AuthTime), encList(c.AMR), c.SessionID, id, c.Browser, now,
		codeHash, ts(codeExpires))
}

// authRequestState explains why a transition changed no row: unknown or expired, no longer
// pending, or bound to another browser. With sameOK, a request pending and bound to browser is
// not an error (a repeated bind). It reads the latest committed state: under READ COMMITTED each
// statement sees what committed before it started, so a concurrent winner is seen.
func (s *Store) authRequestState(ctx context.Context, op, id, browser string, sameOK bool) error {
	var (
		done  bool
		bound string
	)
	err := s.pool.QueryRow(ctx, `SELECT done, browser FROM auth_requests WHERE id = $1 AND expires_at > $2`,
		id, ts(s.clock())).Scan(&done, &bound)
	switch {
	case err != nil:
		return wrap(op, err)
	case done:
		return fmt.Errorf("postgres: %s: %w", op, sso.ErrAuthRequestUsed)
	case bound != browser:
		return fmt.Errorf("postgres: %s: %w", op, sso.ErrAuthRequestElsewhere)
	case sameOK:
		return nil
	}
	// Pending, same binding, yet not updated: it changed in between; report it as used.
	return fmt.Errorf("postgres: %s: %w", op, sso.ErrAuthRequestUsed)
}

// SaveCode attaches a code hash to a done request, once. ErrNotFound when the request is
// unknown, expired, not done or already has a code; ErrConflict when the hash is in use.
func (s *Store) SaveCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error {
	if codeHash == "" {
		return errors.New("postgres: save code: empty code hash")
	}
	err := execOne(ctx, s.pool, `UPDATE auth_requests SET code_hash = $1, code_expires = $2, code_consumed = FALSE
		WHERE id = $3 AND done AND (code_hash IS NULL OR code_hash = '') AND expires_at > $4`,
		codeHash, ts(expiresAt), id, ts(s.clock()))
	return wrap("save code", err)
}

// AuthRequestByCode finds the request by code hash, consumed or not; ErrNotFound when unknown or
// the code has expired.
func (s *Store) AuthRequestByCode(ctx context.Context, codeHash string) (*sso.AuthRequest, error) {
	r, err := scanAuthRequest(s.pool.QueryRow(ctx, `SELECT `+authRequestCols+` FROM auth_requests
		WHERE code_hash = $1 AND code_expires > $2`, codeHash, ts(s.clock())))
	if err != nil {
		return nil, wrap("auth request by code", err)
	}
	return r, nil
}

// CodeRequest returns request id with its code, consumed or not, and whether its session is
// live, in one query by the request's primary key (sso.CodeRequestReader): the code grant's.
// ErrNotFound when the request is unknown, holds no code, or its code has expired.
func (s *Store) CodeRequest(ctx context.Context, id string) (*sso.AuthRequest, bool, error) {
	var live bool
	r, err := scanAuthRequest(extraCols{s.pool.QueryRow(ctx, `SELECT `+authRequestCols+`, EXISTS (SELECT 1 FROM sessions s
		WHERE s.id = auth_requests.session_id AND NOT s.ended AND s.expires_at > $2)
		FROM auth_requests WHERE id = $1 AND code_hash <> '' AND code_expires > $2`, id, ts(s.clock())), []any{&live}})
	if err != nil {
		return nil, false, wrap("code request", err)
	}
	return r, live, nil
}

// extraCols scans a row with columns after the ones its reader knows (appended to its dest).
type extraCols struct {
	row   pgx.Row
	extra []any
}

func (e extraCols) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

// DeleteAuthRequest deletes the request and its code (idempotent).
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM auth_requests WHERE id = $1`, id)
	return wrap("delete auth request", err)
}
