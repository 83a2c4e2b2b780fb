package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

type scanner interface {
	Scan(dest ...any) error
}

func scanAuthRequest(row scanner) (*sso.AuthRequest, error) { return scanAuthRequestWith(row, nil) }

// authRequestScan holds a scanned auth request with the columns it is decoded from and the
// scan's destinations: one allocation for the whole row (the destinations of a Scan through an
// interface escape; as locals each was allocated on its own).
type authRequestScan struct {
	r                                   sso.AuthRequest
	scopes, prompt, uiLocales, amr, acr string
	resources                           string
	maxAge                              sql.NullInt64
	createdAt, expiresAt, authTime, cex int64
	done, consumed                      int
	dest                                [authRequestColCount + 1]any
}

// authRequestColCount is the number of authRequestCols.
const authRequestColCount = 28

// scanAuthRequestWith scans authRequestCols followed by one more column into extra (nil: none).
func scanAuthRequestWith(row scanner, extra any) (*sso.AuthRequest, error) {
	t := new(authRequestScan)
	r := &t.r
	t.dest = [...]any{&r.ID, &r.ClientID, &r.RedirectURI, &r.State, &r.Nonce, &t.scopes, &r.ResponseType,
		&r.ResponseMode, &r.CodeChallenge, &r.CodeChallengeMethod, &t.prompt, &t.maxAge, &r.LoginHint,
		&t.uiLocales, &t.createdAt, &t.expiresAt, &t.done, &r.Subject, &t.authTime, &t.amr, &r.SessionID,
		&r.CodeHash, &t.cex, &t.consumed, &r.HintSubject, &r.Browser, &t.acr, &t.resources, extra}
	dest := t.dest[:authRequestColCount]
	if extra != nil {
		dest = t.dest[:]
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if err := decLists(listCol{&r.Scopes, t.scopes}, listCol{&r.Prompt, t.prompt}, listCol{&r.UILocales, t.uiLocales}, listCol{&r.AMR, t.amr}, listCol{&r.ACRValues, t.acr}, listCol{&r.Resources, t.resources}); err != nil {
		return nil, err
	}
	if t.maxAge.Valid {
		d := time.Duration(t.maxAge.Int64)
		r.MaxAge = &d
	}
	r.CreatedAt, r.ExpiresAt, r.AuthTime, r.CodeExpiresAt = tm(t.createdAt), tm(t.expiresAt), tm(t.authTime), tm(t.cex)
	r.Done, r.CodeConsumed = t.done != 0, t.consumed != 0
	return r, nil
}

// CreateAuthRequest stores a new auth request; ErrConflict when the id exists. Code fields are
// ignored: a code is attached by SaveCode.
func (s *Store) CreateAuthRequest(ctx context.Context, r *sso.AuthRequest) error {
	if r == nil || r.ID == "" {
		return errors.New("sqlite: create auth request: empty id")
	}
	var maxAge any
	if r.MaxAge != nil {
		maxAge = int64(*r.MaxAge)
	}
	createdAt := r.CreatedAt
	if createdAt.IsZero() {
		createdAt = s.clock()
	}
	// On the write connection's driver statement when its batch allows (rawStmtWrite).
	_, err := s.wexecRaw(ctx, s.st.createAuthRequest, func(rc *rawConn) rawStmt { return rc.createAuthRequestStmt },
		r.ID, r.ClientID, r.RedirectURI, r.State, r.Nonce,
		encList(r.Scopes), r.ResponseType, r.ResponseMode, r.CodeChallenge, r.CodeChallengeMethod,
		encList(r.Prompt), maxAge, r.LoginHint, encList(r.UILocales), ts(createdAt), ts(r.ExpiresAt),
		int64(b2i(r.Done)), r.Subject, ts(r.AuthTime), encList(r.AMR), r.SessionID, r.HintSubject, r.Browser, encList(r.ACRValues), encList(r.Resources))
	return wrap("create auth request", err)
}

// AuthRequest returns the request by id; ErrNotFound when unknown or expired. It reads on the
// write connection's driver connection when that is free (readOnWriter), else on the read
// pool: one statement, at the newest snapshot either way, as every transition of the request
// is a compare-and-set of its own that reads no earlier state.
func (s *Store) AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error) {
	now := ts(s.clock())
	r, ran, err := readOnWriter(ctx, s, func(ctx context.Context, rc *rawConn) (*sso.AuthRequest, error) {
		return rc.authRequest(ctx, id, now)
	})
	if !ran {
		r, err = readRow(ctx, s, s.st.authRequest, scanAuthRequest, id, now)
	}
	if err != nil {
		return nil, wrap("auth request", err)
	}
	return r, nil
}

// BindAuthRequest binds a pending request to a browser, once (compare-and-set).
func (s *Store) BindAuthRequest(ctx context.Context, id, browser string) error {
	if browser == "" {
		return errors.New("sqlite: bind auth request: empty browser")
	}
	res, err := s.wexecStmt(ctx, s.st.bindAuthRequest, browser, id, ts(s.clock()))
	if err := affectedOne(res, err); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			return wrap("bind auth request", err)
		}
		return s.authRequestState(ctx, "bind auth request", id, browser, true)
	}
	return nil
}

// ClaimAuthRequest binds a pending, unbound request to browser and returns it, in one statement
// (store.SignInStore); nil when it bound nothing.
func (s *Store) ClaimAuthRequest(ctx context.Context, id, browser string) (*sso.AuthRequest, error) {
	if browser == "" {
		return nil, errors.New("sqlite: claim auth request: empty browser")
	}
	w := &claimWrite{s: s, browser: browser, id: id, now: ts(s.clock())}
	w.writeOp = writeOp{ctx: ctx, w: w}
	err := s.submit(&w.writeOp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("claim auth request", err)
	}
	return w.out, nil
}

// claimWrite is ClaimAuthRequest's write: one UPDATE ... RETURNING (claimAuthRequestQuery) whose
// row is decoded after the statement changed it. The decoding may fail (a column it cannot
// read), so the write is not single: it has a savepoint in a batch and a transaction alone, and a
// failed decode rolls the binding back (TestClaimScanFailureLeavesNothing). It is a rawTxWriter,
// so that a batch holding a login page's claim next to the other steps' writes stays on the
// write connection's driver statements (rawBatch).
type claimWrite struct {
	writeOp
	s           *Store
	browser, id string
	now         int64
	out         *sso.AuthRequest // set by every run (a batch that cannot commit runs it again)
}

// apply claims on database/sql's transaction; sql.ErrNoRows when it bound nothing.
func (w *claimWrite) apply(ctx context.Context, tx *sql.Tx) (err error) {
	w.out, err = scanAuthRequest(tx.StmtContext(ctx, w.s.st.claimAuthRequest).QueryRowContext(ctx, w.browser, w.id, w.now))
	return err
}

// applyRaw claims with the driver statement; sql.ErrNoRows when it bound nothing.
func (w *claimWrite) applyRaw(ctx context.Context, rc *rawConn) error {
	w.out = nil
	rc.args[0].Value, rc.args[1].Value, rc.args[2].Value = w.browser, w.id, w.now
	row, found, err := rc.queryRow(ctx, rc.claimAuthRequestStmt, 3)
	switch {
	case err != nil:
		return err
	case !found:
		return sql.ErrNoRows
	}
	defer clear(row)
	w.out, err = scanAuthRequest(row)
	return err
}

// CompleteAuthRequest moves a pending request bound to c.Browser to completed (compare-and-set).
func (s *Store) CompleteAuthRequest(ctx context.Context, id string, c sso.Completion) error {
	res, err := s.wexecStmt(ctx, s.st.completeAuthRequest, c.Subject, ts(c.AuthTime), encList(c.AMR),
		c.SessionID, id, c.Browser, ts(s.clock()))
	if err := affectedOne(res, err); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			return wrap("complete auth request", err)
		}
		return s.authRequestState(ctx, "complete auth request", id, c.Browser, false)
	}
	return nil
}

// authRequestState explains why a transition changed no row: unknown or expired, no longer
// pending, or bound to another browser. With sameOK, a request pending and bound to browser is
// not an error (a repeated bind).
func (s *Store) authRequestState(ctx context.Context, op, id, browser string, sameOK bool) error {
	var (
		done  int
		bound string
	)
	err := s.w.QueryRowContext(ctx, `SELECT done, browser FROM auth_requests WHERE id = ? AND expires_at > ?`,
		id, ts(s.clock())).Scan(&done, &bound)
	switch {
	case err != nil:
		return wrap(op, err)
	case done != 0:
		return fmt.Errorf("sqlite: %s: %w", op, sso.ErrAuthRequestUsed)
	case bound != browser:
		return fmt.Errorf("sqlite: %s: %w", op, sso.ErrAuthRequestElsewhere)
	case sameOK:
		return nil
	}
	// Pending, same binding, yet not updated: it changed in between; report it as used.
	return fmt.Errorf("sqlite: %s: %w", op, sso.ErrAuthRequestUsed)
}

// SaveCode attaches a code hash to a done request. ErrNotFound when the request is unknown,
// expired, not done or already has a code. A code is found by its request (CodeRequest), so its
// hash need not be unique across requests (nothing indexes it since version 30).
func (s *Store) SaveCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error {
	if codeHash == "" {
		return errors.New("sqlite: save code: empty code hash")
	}
	res, err := s.wexecStmt(ctx, s.st.saveCode, codeHash, ts(expiresAt), id, ts(s.clock()))
	return wrap("save code", affectedOne(res, err))
}

// AuthRequestByCode finds the request by code hash, consumed or not; ErrNotFound when unknown or
// the code has expired. It scans the requests (no index of code hashes since version 30): the
// provider finds codes by their request (CodeRequest) and never calls it.
func (s *Store) AuthRequestByCode(ctx context.Context, codeHash string) (*sso.AuthRequest, error) {
	r, err := scanAuthRequest(s.r.QueryRowContext(ctx, authRequestByCodeQuery, codeHash, ts(s.clock())))
	if err != nil {
		return nil, wrap("auth request by code", err)
	}
	return r, nil
}

// CodeRequest returns request id with its code, consumed or not, and whether its session is
// live, in one read (sso.CodeRequestReader): the code grant's. ErrNotFound when the request is
// unknown, holds no code, or its code has expired. It reads on the write connection's driver
// connection when that is free (readOnWriter), else on the read pool, as AuthRequest does.
func (s *Store) CodeRequest(ctx context.Context, id string) (*sso.AuthRequest, bool, error) {
	type found struct {
		r    *sso.AuthRequest
		live bool
	}
	now := ts(s.clock())
	f, ran, err := readOnWriter(ctx, s, func(ctx context.Context, rc *rawConn) (f found, err error) {
		f.r, f.live, err = rc.codeRequest(ctx, id, now)
		return f, err
	})
	if !ran {
		f.r, err = readRow(ctx, s, s.st.codeRequest, func(row scanner) (*sso.AuthRequest, error) {
			return scanAuthRequestWith(row, &f.live)
		}, id, now)
	}
	r, live := f.r, f.live
	if err != nil {
		return nil, false, wrap("code request", err)
	}
	return r, live, nil
}

// DeleteAuthRequest deletes the request and its code (idempotent).
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	_, err := s.wexec(ctx, `DELETE FROM auth_requests WHERE id = ?`, id)
	return wrap("delete auth request", err)
}

// affectedOne turns "no row changed" into sql.ErrNoRows.
func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}
